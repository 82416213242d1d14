//! `earlyexit`: see the library crate for everything it does.
fn main() -> std::process::ExitCode {
    earlyexit::main_entry()
}
