//! Rules for a secret key name in syntax that is not a plain assignment:
//! XML elements and `key="…" value="…"` attributes, `{"Key", "value"}`
//! pairs and call arguments, whitespace-separated `KEY value` (Dockerfile
//! `ENV`, nginx, CLI flags, prose, comments), signing calls and Go DSNs.
//! Each rule only finds the shape; `context.rs` judges key and value, and a
//! weaker shape (whitespace only) needs a more random value.

use super::{Builtin, secret};
use crate::context;

/// Secret-ish words one of which every key name holds (any case).
macro_rules! key_word {
    () => {
        r"(?i:pass|pw|psk|secret|token|key|credential|auth|session)"
    };
}

/// This file's rules, in priority order.
pub(super) fn rules() -> Vec<Builtin> {
    vec![
        Builtin {
            name: "xml-secret-element",
            placeholder: secret("secret:password"),
            pattern: r#"<[A-Za-z_][\w.:\-]*(?:\s[^<>]*)?>(?P<s>[^<>\n]{4,})</"#,
            anchors: &["</"],
            check: Some(context::keyed_pair),
            examples: &[
                ("  <password>Winter$1977!</password>", "Winter$1977!"),
                ("<secret>q8Zr2vN2xLp7Wm</secret>", "q8Zr2vN2xLp7Wm"),
                (
                    "<entry key=\"jwt.signing-key\">Zk9aR2x0QmFzZTY0U2VjcmV0</entry>",
                    "Zk9aR2x0QmFzZTY0U2VjcmV0",
                ),
            ],
            non_examples: &[
                "<password>${DB_PASSWORD}</password>",
                "<keyStore>config/keystore.jks</keyStore>",
                "<tokenType>bearer</tokenType>",
                "<name>api-key</name>",
            ],
        },
        Builtin {
            name: "xml-keyed-value",
            placeholder: secret("secret:password"),
            pattern: r#"(?i)\b(?:key|name)\s*=\s*"[^"\n]+"\s+value\s*=\s*"(?P<s>[^"\n]+)""#,
            anchors: &["value"],
            check: Some(context::keyed_pair),
            examples: &[(
                "<add key=\"StorageAccountKey\" value=\"n8Yc3Kq0ZpLw4TfB7sJd\" />",
                "n8Yc3Kq0ZpLw4TfB7sJd",
            )],
            non_examples: &["<add key=\"TokenLifetime\" value=\"3600\" />"],
        },
        Builtin {
            name: "keyed-pair",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"["'][\w.\-]*"#,
                key_word!(),
                r#"[\w.\-]*["']\s*(?:,|\{\s*default\s*=)\s*(?:"(?P<s>[^"\n]+)"|'(?P<s2>[^'\n]+)')"#
            ),
            anchors: &[
                "pass",
                "pwd",
                "secret",
                "token",
                "key",
                "credential",
                "auth",
                "session",
            ],
            check: Some(context::keyed_pair),
            examples: &[
                (
                    "    {\"AccountKey\", \"c2VjcmV0LWtleS12YWx1ZS05OQ==\"},",
                    "c2VjcmV0LWtleS12YWx1ZS05OQ==",
                ),
                (
                    "props.setProperty(\"mail.smtp.password\", \"Hunter2!x\");",
                    "Hunter2!x",
                ),
                (
                    "variable \"shared_secret\" { default = \"HOX8DIZSJSP1KAEKANGQZJH3IT\" }",
                    "HOX8DIZSJSP1KAEKANGQZJH3IT",
                ),
            ],
            non_examples: &[
                "fields = [\"password\", \"email\"]",
                "os.getenv(\"API_TOKEN\", \"\")",
                "headers.set(\"X-Api-Key\", apiKey)",
                "variable \"db_password\" { default = \"\" }",
            ],
        },
        Builtin {
            name: "spaced-pair",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?:^|[\s"'(\[{,;/*#])[\w.\-]*"#,
                key_word!(),
                r#"[\w.\-]*["']?(?:\s*->|\s*\|)?"#,
                r#"(?:(?:\s+[A-Za-z]{1,12}){0,2}?\s+(?i:is|was|are|to|as|be|been|now|reset|set|changed|updated)\b){0,3}[ \t]+"#,
                r#"(?:"(?P<s>[^"\n]+)"|['`](?P<s2>[^'`\n]+)['`]|(?P<s3>[^\s"'`,;<>]+))"#
            ),
            anchors: &[
                "pass",
                "pwd",
                "secret",
                "token",
                "key",
                "credential",
                "auth",
                "session",
            ],
            check: Some(context::spaced_pair),
            examples: &[
                (
                    "#14 0.076 Step 5/9 : ENV DB_PASSWORD 5d914274e55fa921eac38eb1e700fcee",
                    "5d914274e55fa921eac38eb1e700fcee",
                ),
                (
                    "$ deploy-tool push --auth tok_ctOmZuPM5quBKHFkldjkQ4 --verbose",
                    "tok_ctOmZuPM5quBKHFkldjkQ4",
                ),
                (
                    "// the jwt_secret is \"pM9GPRnTSTvjFevIepPYV\"",
                    "pM9GPRnTSTvjFevIepPYV",
                ),
                (
                    "Password was reset to Riv*70x for the on-call account.",
                    "Riv*70x",
                ),
                (
                    "the app_auth_key for prod is now Dv9AFZhY2HziX7cAl5HqROpc3RJ",
                    "Dv9AFZhY2HziX7cAl5HqROpc3RJ",
                ),
                ("SAS_TOKEN -> B!5gv%#3T#XZ42vaD", "B!5gv%#3T#XZ42vaD"),
                (
                    "| APP_PASSWORD | `0994e1b14cf2227a4ceed9ea69da` | prod |",
                    "0994e1b14cf2227a4ceed9ea69da",
                ),
            ],
            non_examples: &[
                "The token expired; please log in again.",
                "Rotate the API key every 90 days.",
                "  --token-file /var/run/secrets/kubernetes.io/serviceaccount/token",
                "test auth::tests::rejects_expired_token ... ok",
                "ssh -i ~/.ssh/id_ed25519 deploy@bastion",
                "  -p, --password <PASSWORD>   password to use when connecting",
                "The password is incorrect.",
                "Your password was reset to the default.",
                "the token for this build is ready",
                "password -> bcrypt",
                "| password | `<set in vault>` | prod |",
            ],
        },
        Builtin {
            name: "setter-call",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"\b\w*"#,
                key_word!(),
                r#"\w*\s*\(\s*(?:"(?P<s>[^"\n]+)"|'(?P<s2>[^'\n]+)')\s*\)"#
            ),
            anchors: &[
                "pass",
                "pwd",
                "secret",
                "token",
                "key",
                "credential",
                "auth",
                "session",
            ],
            check: Some(context::setter_call),
            examples: &[
                (
                    "    .db_password(\"9d51726f7b22229ec57a96484f956f450ea9c37c\")",
                    "9d51726f7b22229ec57a96484f956f450ea9c37c",
                ),
                (
                    "client.setApiKey('Zq8Lm2Xv0Tr4Pw6Ny');",
                    "Zq8Lm2Xv0Tr4Pw6Ny",
                ),
            ],
            non_examples: &[
                "secret = client.get_secret(\"prod/db-password-2024\")",
                "password_field(\"Password\")",
                "t.Run(\"rejects_expired_token\", func(t *testing.T) {",
                ".with_token(\"${{ secrets.TOKEN }}\")",
            ],
        },
        Builtin {
            name: "value-flag",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?i)(?:^|\s)--(?:value|body|secret-string|secret-value)(?:=|\s+)"#,
                r#"(?:"(?P<s>[^"\n]+)"|'(?P<s2>[^'\n]+)'|(?P<s3>[^\s"'`]+))"#
            ),
            anchors: &["--value", "--body", "--secret-"],
            check: Some(context::value_flag),
            examples: &[
                (
                    "gh secret set BECOME_PASS --body \"617882KMOCG7FNNAINS8\"",
                    "617882KMOCG7FNNAINS8",
                ),
                (
                    "aws ssm put-parameter --name /app/prod_hmac_key --value \"nj1cQubgv5mhRaugd9jrn4G=\" --type SecureString",
                    "nj1cQubgv5mhRaugd9jrn4G=",
                ),
            ],
            non_examples: &[
                "gh secret set NPM_TOKEN --body \"$NPM_TOKEN\"",
                "aws ssm put-parameter --name /app/log_level --value debug",
                "gh issue create --title x --body \"token refresh fails on 2.1\"",
            ],
        },
        Builtin {
            name: "signing-call",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?i)\b(?:sign|encode|hmac|createHmac|hs256)\w*\s*\(\s*[\w.\[\]"']+\s*,\s*"#,
                r#"(?:key\s*=\s*)?(?:"(?P<s>[^"\n]+)"|'(?P<s2>[^'\n]+)')"#
            ),
            anchors: &["sign", "encode", "hmac", "hs256"],
            check: Some(|c| context::secretish(&c.line[c.start..c.end], 8)),
            examples: &[(
                "jwt.sign(payload, \"GPi75e4vXcAA1iBe8WtD\") // -> token",
                "GPi75e4vXcAA1iBe8WtD",
            )],
            non_examples: &["jwt.sign(payload, \"HS256\")", "encode(data, 'utf-8')"],
        },
        Builtin {
            name: "dsn-credentials",
            placeholder: secret("secret:password"),
            pattern: r#"\b[\w.\-]+:(?P<s>[^\s:@/"']{3,})@(?:tcp|unix|udp)\("#,
            anchors: &["@tcp(", "@unix(", "@udp("],
            check: Some(|c| !crate::check::is_stand_in(&c.line[c.start..c.end])),
            examples: &[(
                "dsn := \"app:Hkh6Lyy$apbE7@tcp(db:3306)/shop\"",
                "Hkh6Lyy$apbE7",
            )],
            non_examples: &["dsn := \"app:${DB_PASS}@tcp(db:3306)/shop\""],
        },
    ]
}
