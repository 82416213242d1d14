//! Rules for personal and network data: emails, home paths, IP and MAC
//! addresses, card numbers, SSNs, internal host names.

use super::Builtin;
use crate::check;
use crate::placeholder::Placeholder;

/// This file's rules, in priority order.
pub(super) fn rules() -> Vec<Builtin> {
    vec![
        Builtin {
            name: "email",
            placeholder: Placeholder::Typed("email"),
            pattern: r"\b(?P<s>[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,})\b",
            anchors: &["@"],
            check: Some(check::email),
            examples: &[(
                "Author: Zanele Moreau <zmoreau@fastmail.fm>",
                "zmoreau@fastmail.fm",
            )],
            non_examples: &[
                "git@github.com:rust-lang/cargo.git",
                "49699333+dependabot[bot]@users.noreply.github.com",
                "celery@worker1 ready",
            ],
        },
        Builtin {
            name: "home-path",
            placeholder: Placeholder::Home,
            pattern: r"(?P<s>/home/[A-Za-z0-9._\-]+|/Users/[A-Za-z0-9._\-]+|[A-Za-z]:(?:\\\\?)Users(?:\\\\?)[A-Za-z0-9._\- ]*[A-Za-z0-9._\-])",
            anchors: &["/home/", "/Users/", "Users\\"],
            check: Some(check::home),
            examples: &[
                (
                    "  File \"/Users/mpetrov/projects/thesis/src/app.py\", line 289",
                    "/Users/mpetrov",
                ),
                ("rootdir: /home/tomasz.m/src/widgets", "/home/tomasz.m"),
            ],
            non_examples: &[
                "HOME=/home/runner",
                "/usr/lib/python3/dist-packages/apt/cache.py:170: UserWarning",
            ],
        },
        Builtin {
            name: "ipv4",
            placeholder: Placeholder::Typed("ipv4"),
            pattern: r"(?:^|[^0-9A-Za-z.])(?P<s>(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})(?:$|[^0-9A-Za-z])",
            anchors: &[],
            check: Some(check::ipv4),
            examples: &[
                (
                    "Connection closed by 133.133.133.133 port 40022 [preauth]",
                    "133.133.133.133",
                ),
                ("dial tcp 10.251.30.178:6379: connect", "10.251.30.178"),
            ],
            non_examples: &[
                "Listening on http://127.0.0.1:8000",
                "Version: 1.2.3.4",
                "netmask 255.255.255.0",
                "OID 1.3.6.1.4.1.311.21.8",
                "256.256.256.256",
            ],
        },
        Builtin {
            name: "ipv6",
            placeholder: Placeholder::Typed("ipv6"),
            pattern: r"(?:^|[^0-9A-Za-z:.])(?P<s>[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}\.\d{1,3}\.\d{1,3})?)(?:$|[^0-9A-Za-z])",
            anchors: &[],
            check: Some(check::ipv6),
            examples: &[
                (
                    "client 2607:3142:9cca:6c71:c2e9:bca:9710:3a68 sent",
                    "2607:3142:9cca:6c71:c2e9:bca:9710:3a68",
                ),
                (
                    "*   Trying [2a02:199e:4fb:38e8:bee:ef5d:a184:89e]:443...",
                    "2a02:199e:4fb:38e8:bee:ef5d:a184:89e",
                ),
            ],
            non_examples: &[
                "bind: [::1]:6379: address already in use",
                "[12:01:33] Starting 'build'...",
                "std::vec::Vec",
            ],
        },
        Builtin {
            name: "mac-address",
            placeholder: Placeholder::Typed("mac"),
            pattern: r"\b(?P<s>[0-9A-Fa-f]{2}(?:[:\-][0-9A-Fa-f]{2}){5})\b",
            anchors: &[],
            check: Some(check::mac),
            examples: &[(
                "link/ether 3c:22:fb:12:34:56 brd ff:ff:ff:ff:ff:ff",
                "3c:22:fb:12:34:56",
            )],
            non_examples: &["MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"],
        },
        Builtin {
            name: "credit-card",
            placeholder: Placeholder::Typed("card"),
            pattern: r"\b(?P<s>\d(?:[ \-]?\d){11,18})\b",
            anchors: &[],
            check: Some(check::card),
            examples: &[
                (
                    "Charging card 5193-9692-4379-9287 for order",
                    "5193-9692-4379-9287",
                ),
                (
                    "65880,Amara Silva,3795 287911 34979,2026-09",
                    "3795 287911 34979",
                ),
                ("JCB 2131 1445 0582 756 ok", "2131 1445 0582 756"),
                ("maestro 6759-7567-5443-0590-00", "6759-7567-5443-0590-00"),
                ("card: 501801465045", "501801465045"),
            ],
            non_examples: &[
                "elapsed_ms=1709550121000",
                "card 4111111111111112 declined",
                "invoice_id=4111111111111111",
            ],
        },
        Builtin {
            name: "us-ssn",
            placeholder: Placeholder::Typed("ssn"),
            pattern: r"\b(?P<s>\d{3}-\d{2}-\d{4})\b",
            anchors: &[],
            check: Some(check::ssn),
            examples: &[("SSN: 435-15-9719", "435-15-9719")],
            non_examples: &["ERR-000-12-3456: invalid state", "ISBN 978-3-16-148410-0"],
        },
        Builtin {
            name: "internal-hostname",
            placeholder: Placeholder::Typed("host"),
            pattern: concat!(
                r"(?i)\b(?P<s>(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+(?:internal|local|lan|localdomain|intranet|corp|home\.arpa))\b",
                r"|\b(?P<s2>[a-z0-9][a-z0-9\-]*[0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.[a-z0-9\-]*(?:-internal|-corp|-int|-intra|-priv)\.[a-z]{2,})\b",
                r"|\b(?P<s3>DESKTOP-[A-Z0-9]{7}|LAPTOP-[A-Z0-9]{7,8}|ip-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}(?:\.[a-z0-9\-]+)*)\b"
            ),
            anchors: &[
                ".internal",
                ".local",
                ".lan",
                ".intranet",
                ".corp",
                ".home.arpa",
                "-internal.",
                "-corp.",
                "-int.",
                "-intra.",
                "-priv.",
                "DESKTOP-",
                "LAPTOP-",
                "ip-",
            ],
            check: Some(check::private_tld_host),
            examples: &[
                (
                    "ssh: Could not resolve hostname bob-macbook-pro.local: Name or service not known",
                    "bob-macbook-pro.local",
                ),
                (
                    "Running on build-agent-40.ci.vandelay-corp.net (pid 21519)",
                    "build-agent-40.ci.vandelay-corp.net",
                ),
                ("Worker DESKTOP-GAYP70B registered", "DESKTOP-GAYP70B"),
            ],
            non_examples: &[
                "curl -H \"Authorization: Bearer <TOKEN>\" https://api.acme-corp.io",
                "Connecting to registry.npmjs.org:443 ... connected.",
            ],
        },
    ]
}
