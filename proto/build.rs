//! Compiles `earlyexit/v1/*.proto` with protox (pure Rust, no `protoc`
//! binary needed) and generates prost messages and tonic services.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "earlyexit/v1/records.proto",
        "earlyexit/v1/ingest.proto",
        "earlyexit/v1/updates.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["."])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
