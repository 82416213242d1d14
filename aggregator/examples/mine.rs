//! Mines the log on stdin and prints its templates, most frequent first:
//! `cargo test 2>&1 | cargo run -p earlyexit-aggregator --example mine`.

use std::io::Read;

use earlyexit_aggregator::template::{Miner, MinerConfig, split_lines};

fn main() -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut miner = Miner::new(MinerConfig::default())?;
    for line in split_lines(&text) {
        miner.add(line);
    }
    let mut templates: Vec<_> = miner.templates().collect();
    templates.sort_by_key(|t| std::cmp::Reverse(t.count()));
    println!("{} lines, {} templates", miner.lines(), templates.len());
    for t in templates {
        println!("{:>7}  {}", t.count(), t.text());
    }
    Ok(())
}
