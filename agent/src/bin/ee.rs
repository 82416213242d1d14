//! `ee`: the short name of `earlyexit`, the same program.
fn main() -> std::process::ExitCode {
    earlyexit::main_entry()
}
