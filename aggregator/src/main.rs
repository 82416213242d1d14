//! `earlyexit-aggregator`: see `earlyexit-aggregator --help`.

fn main() -> std::process::ExitCode {
    earlyexit_aggregator::cli::main()
}
