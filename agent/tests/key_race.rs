//! Many `earlyexit` processes starting at once on a fresh home must all
//! scrub with the one full-length key that ends up in the key file, never
//! with an empty or partial one read while another process was writing it.

mod common;

use std::io::Write;
use std::process::{Child, Output, Stdio};
use std::sync::Barrier;
use std::time::Duration;

use common::*;

const PROCESSES: usize = 16;
const LINE: &str = "mail from erin@corp-mail.io";

/// Starts `earlyexit scrub` PROCESSES times, from as many threads released
/// together, so the processes load the key (at start-up) as close together
/// as the machine allows; returns them before any is given its input.
fn start_together(env: &Env) -> Vec<Child> {
    let barrier = Barrier::new(PROCESSES);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..PROCESSES)
            .map(|_| {
                s.spawn(|| {
                    let mut cmd = env.cmd(&["scrub"]);
                    cmd.stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped());
                    barrier.wait();
                    cmd.spawn().expect("spawn earlyexit scrub")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Gives each child LINE on stdin and collects what it printed.
fn finish(children: Vec<Child>) -> Vec<Output> {
    children
        .into_iter()
        .map(|mut child| {
            let mut stdin = child.stdin.take().expect("piped stdin");
            // A process that failed at start-up has closed its stdin;
            // its status and stderr tell why below.
            let _ = writeln!(stdin, "{LINE}");
            drop(stdin);
            wait_with_limit(child, Duration::from_secs(30))
        })
        .collect()
}

/// Asserts the key file holds a full-length key and every process
/// scrubbed LINE with exactly that key.
fn assert_all_used_the_key_file(env: &Env, outputs: &[Output], what: &str) {
    let key = std::fs::read(env.home.path().join("scrub.key")).expect("the key file");
    assert!(key.len() >= 16, "{what}: a {}-byte key", key.len());
    let expected = earlyexit_scrub::Scrubber::builder()
        .keyed(key)
        .build()
        .unwrap()
        .scrub_line(LINE)
        .into_owned();
    assert!(expected.contains("<email:"), "{expected}");
    for (i, out) in outputs.iter().enumerate() {
        assert!(
            out.status.success(),
            "{what}, process {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim_end(),
            expected,
            "{what}, process {i} scrubbed with another key"
        );
    }
}

fn keyed_home() -> Env {
    let env = Env::new();
    std::fs::write(env.home.path().join("config.yaml"), "scrub_keyed: true\n").unwrap();
    env
}

#[test]
fn processes_racing_on_a_fresh_home_all_use_the_same_full_length_scrub_key() {
    for round in 0..4 {
        let env = keyed_home();
        assert!(!env.home.path().join("scrub.key").exists());
        let outputs = finish(start_together(&env));
        assert_all_used_the_key_file(&env, &outputs, &format!("round {round}"));
        // Only the key and the config are left: no temporary files.
        let mut names: Vec<_> = std::fs::read_dir(env.home.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["config.yaml", "scrub.key"], "round {round}");
    }
}

#[test]
fn processes_wait_for_a_key_file_another_process_is_still_writing() {
    // An empty key file, as a process (or an older version) that has
    // created it and not yet written it leaves; it is completed in place
    // while the processes are starting.
    let env = keyed_home();
    let key_path = env.home.path().join("scrub.key");
    std::fs::write(&key_path, b"").unwrap();
    let children = start_together(&env);
    std::fs::write(&key_path, [0x5au8; 32]).unwrap();
    let outputs = finish(children);
    assert_all_used_the_key_file(&env, &outputs, "a key completed late");
    assert_eq!(std::fs::read(&key_path).unwrap(), [0x5au8; 32]);
}
