//! `earlyexit-collector`: see `earlyexit-collector --help`.

fn main() -> std::process::ExitCode {
    earlyexit_collector::cli::main()
}
