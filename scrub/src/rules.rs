//! The built-in rules: one named, tested unit per kind of secret or PII.
//!
//! Owns each rule's name, regex, placeholder, cheap prefilter anchors, the
//! check that runs on a match, and the examples that prove it (every rule
//! carries positive and negative examples that `tests::each_rule_*` run). It
//! must never decide how findings are merged or written; `engine.rs` does.
//!
//! Regex conventions: patterns are compiled as byte regexes with Unicode off
//! (ASCII `\b`, `\w`, case folding). A group named `s` (or `s2`, `s3` for
//! alternatives) marks the part to replace; without one the whole match is
//! replaced.

use crate::check::{self, Check};
use crate::keys;
use crate::placeholder::Placeholder;

/// One built-in rule.
pub(crate) struct Builtin {
    /// Stable name, used by `disable` and in findings.
    pub name: &'static str,
    /// What replaces a finding.
    pub placeholder: Placeholder,
    /// The regex (see the module header for conventions).
    pub pattern: &'static str,
    /// ASCII case-insensitive literals of which at least one occurs in every match;
    /// empty means the rule runs through the shared anchorless prefilter.
    pub anchors: &'static [&'static str],
    /// Judgement after the regex matched.
    pub check: Option<Check>,
    /// Lines with the secret the rule must remove: (line, secret).
    #[cfg_attr(not(test), allow(dead_code))]
    pub examples: &'static [(&'static str, &'static str)],
    /// Lines the rule must leave alone.
    #[cfg_attr(not(test), allow(dead_code))]
    pub non_examples: &'static [&'static str],
}

const fn secret(label: &'static str) -> Placeholder {
    Placeholder::Typed(label)
}

/// A quoted or bare value after `=`/`:`; three alternative secret groups.
macro_rules! val {
    () => {
        r#"(?:"(?P<s>[^"\n]*)"|'(?P<s2>[^'\n]*)'|(?P<s3>[^\s"'`,;]+))"#
    };
}

/// Separator between key and value.
macro_rules! sep {
    () => {
        r#"["']?\s*(?:=>|:=|!==?|===?|=|:)\s*@?(?:!!\w+\s+)?"#
    };
}

/// All built-in rules, in priority order (earlier wins an overlap).
pub(crate) fn builtins() -> Vec<Builtin> {
    vec![
        Builtin {
            name: "private-key",
            placeholder: secret("secret:private-key"),
            pattern: r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?P<s>.+?)(?:-----END|$)",
            anchors: &["-----BEGIN"],
            check: Some(|c| {
                c.end > c.start
                    && !c.line[c.start..c.end]
                        .iter()
                        .all(|b| b.is_ascii_whitespace() || *b == b'"' || *b == b'\\' || *b == b'n')
            }),
            examples: &[(
                r#""private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n""#,
                "MIIEvQIBADANBg",
            )],
            non_examples: &["-----BEGIN PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----"],
        },
        Builtin {
            name: "aws-access-key-id",
            placeholder: secret("secret:aws"),
            pattern: r"\b(?P<s>(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16})\b",
            anchors: &[
                "A3T", "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA",
                "ANVA", "APKA",
            ],
            check: None,
            examples: &[(
                "export AWS_ACCESS_KEY_ID=AKIALALEMEL33243OLIB",
                "AKIALALEMEL33243OLIB",
            )],
            non_examples: &[
                "AKIA is the prefix",
                "class AwsCredentialsProvider(Protocol):",
            ],
        },
        Builtin {
            name: "aws-secret-access-key",
            placeholder: secret("secret:aws"),
            pattern: r"(?:^|[^A-Za-z0-9/+_\-])(?P<s>[A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=_\-])",
            anchors: &[],
            check: Some(check::aws_secret_shape),
            examples: &[
                (
                    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                ),
                (
                    "some_function(wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY)",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                ),
            ],
            non_examples: &[
                "commit ba53fbbb0215325988f497c1afcbc31a556ab17a",
                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                "id_KtHF4vUCsMehGAkWvj7FAc9QeWJKY40uvSwMFLZDe1f8rE_x",
            ],
        },
        Builtin {
            name: "aws-session-token",
            placeholder: secret("secret:aws"),
            pattern: r"\b(?P<s>(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE|FQoGZXIvYXdzE)[A-Za-z0-9/+=]{20,})",
            anchors: &["IQoJb3JpZ2luX2Vj", "ZXIvYXdzE"],
            check: None,
            examples: &[(
                "AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ",
                "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ",
            )],
            non_examples: &["IQoJ is short"],
        },
        Builtin {
            name: "github-token",
            placeholder: secret("secret:github"),
            pattern: r"\b(?P<s>gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})",
            anchors: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
            check: None,
            examples: &[(
                "export GITHUB_TOKEN=ghu_kXY8JLAVY3NBjhR7BjjKXWB8dMtNEy3DeV5d",
                "ghu_kXY8JLAVY3NBjhR7BjjKXWB8dMtNEy3DeV5d",
            )],
            non_examples: &["ghp_ tokens start with ghp_"],
        },
        Builtin {
            name: "gitlab-token",
            placeholder: secret("secret:gitlab"),
            pattern: r"\b(?P<s>(?:glpat|glrt|gldt|glptt|glcbt|glimt|glagent|gloas|glsoat|glft|glffct|glrtr)-[A-Za-z0-9_\-]{16,}|GR1348941[A-Za-z0-9_\-]{16,})",
            anchors: &[
                "glpat-",
                "glrt-",
                "gldt-",
                "glptt-",
                "glcbt-",
                "glimt-",
                "glagent-",
                "gloas-",
                "glsoat-",
                "glft-",
                "glffct-",
                "glrtr-",
                "GR1348941",
            ],
            check: None,
            examples: &[(
                "export GITLAB_TOKEN=glpat-hellOworld380_testin",
                "glpat-hellOworld380_testin",
            )],
            non_examples: &["glpat- is the prefix"],
        },
        Builtin {
            name: "slack-token",
            placeholder: secret("secret:slack"),
            pattern: r"\b(?P<s>xox[abeoprs]-(?:\d-)?[A-Za-z0-9\-]{20,}|xoxe\.xox[bp]-\d-[A-Za-z0-9\-]{10,}|xapp-\d-[A-Za-z0-9\-]{10,})",
            anchors: &["xox", "xapp-"],
            check: None,
            examples: &[(
                "SLACK_BOT_TOKEN=xoxb-34532454-e039d02840a0b9379c",
                "xoxb-34532454-e039d02840a0b9379c",
            )],
            non_examples: &["https://github.com/xoxa-nyc/xoxa-nyc.github.io/blob/master/README.md"],
        },
        Builtin {
            name: "slack-webhook",
            placeholder: secret("secret:slack"),
            pattern: r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9_/\-]{8,})",
            anchors: &["hooks.slack.com/"],
            check: None,
            examples: &[(
                "curl https://hooks.slack.com/services/T000/B000/XXXXabcdEFGH1234",
                "T000/B000/XXXXabcdEFGH1234",
            )],
            non_examples: &["see https://api.slack.com/messaging/webhooks"],
        },
        Builtin {
            name: "stripe-key",
            placeholder: secret("secret:stripe"),
            pattern: r"\b(?P<s>(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9+/=]{16,})",
            anchors: &[
                "sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_", "whsec_",
            ],
            check: None,
            examples: &[(
                "export STRIPE_SECRET_KEY=sk_live_ReTllpYQYfIZu2Jnf2lAPFjD",
                "sk_live_ReTllpYQYfIZu2Jnf2lAPFjD",
            )],
            non_examples: &[
                "infra/terraform/main.tf:99:pk_live_j5krY8XTgIcDaHDb3YrsAfCl",
                "sk_live_",
            ],
        },
        Builtin {
            name: "openai-key",
            placeholder: secret("secret:openai"),
            pattern: r"\b(?P<s>sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-)?[A-Za-z0-9_\-]{20,})",
            anchors: &["sk-"],
            check: None,
            examples: &[(
                "export OPENAI_API_KEY=sk-5cvTtoiet0CyhHWV5KDfp6w5cnUuo2WfY6TfqxQDDtNe9c7d",
                "sk-5cvTtoiet0CyhHWV5KDfp6w5cnUuo2WfY6TfqxQDDtNe9c7d",
            )],
            non_examples: &["mount /dev/disk-partition-by-label-sk-root"],
        },
        Builtin {
            name: "google-api-key",
            placeholder: secret("secret:google"),
            pattern: r"\b(?P<s>AIza[0-9A-Za-z_\-]{35})",
            anchors: &["AIza"],
            check: None,
            examples: &[(
                "GOOGLE_API_KEY=AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU",
                "AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU",
            )],
            non_examples: &["AIza prefix"],
        },
        Builtin {
            name: "azure-client-secret",
            placeholder: secret("secret:azure"),
            pattern: r"(?:^|[^A-Za-z0-9_~.\-])(?P<s>[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})",
            anchors: &["Q~"],
            check: None,
            examples: &[(
                "AZURE_CLIENT_SECRET=E9F8Q~RnvbXd5AunOKTkn1y2C~yE2M8a0jdbq",
                "E9F8Q~RnvbXd5AunOKTkn1y2C~yE2M8a0jdbq",
            )],
            non_examples: &["a Q~ b"],
        },
        Builtin {
            name: "azure-storage-key",
            placeholder: secret("secret:azure"),
            pattern: r"(?i:AccountKey|SharedAccessKey|SharedAccessSignature|sig)=(?P<s>[A-Za-z0-9+/%]{20,}={0,2})",
            anchors: &["AccountKey=", "SharedAccess", "sig="],
            check: None,
            examples: &[(
                "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=lJzRc1YdHaAA2KCNJJ1tkYwF/+mKK6Ygw0NGe170Xu59==",
                "lJzRc1YdHaAA2KCNJJ1tkYwF/+mKK6Ygw0NGe170Xu59==",
            )],
            non_examples: &["AccountName=acmebuildcache"],
        },
        Builtin {
            name: "npm-token",
            placeholder: secret("secret:npm"),
            pattern: r"\b(?P<s>npm_[A-Za-z0-9]{36})\b|_authToken\s*=\s*(?P<s2>[^\s$'{]{8,})",
            anchors: &["npm_", "_authToken"],
            check: Some(check::strong_value),
            examples: &[(
                "//registry.npmjs.org/:_authToken=743b294a-cd03-11ec-9d64-0242ac120002",
                "743b294a-cd03-11ec-9d64-0242ac120002",
            )],
            non_examples: &["//registry.npmjs.org/:_authToken=${NPM_TOKEN}"],
        },
        Builtin {
            name: "pypi-token",
            placeholder: secret("secret:pypi"),
            pattern: r"\b(?P<s>pypi-[A-Za-z0-9_\-]{50,})",
            anchors: &["pypi-"],
            check: None,
            examples: &[(
                "TWINE_PASSWORD=pypi-AgEIcHlwaS5vcmcCJDU3OTM1MjliLWIyYTYtNDEwOC05NzRkLTM0MjNiNmEwNWIzYgACF1sx",
                "pypi-AgEIcHlwaS5vcmcCJDU3OTM1MjliLWIyYTYtNDEwOC05NzRkLTM0MjNiNmEwNWIzYgACF1sx",
            )],
            non_examples: &["pip install pypi-simple"],
        },
        Builtin {
            name: "sendgrid-key",
            placeholder: secret("secret:sendgrid"),
            pattern: r"\b(?P<s>SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64})",
            anchors: &["SG."],
            check: None,
            examples: &[(
                "SENDGRID_API_KEY=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",
                "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",
            )],
            non_examples: &["SG.short"],
        },
        Builtin {
            name: "twilio-key",
            placeholder: secret("secret:twilio"),
            pattern: r"\b(?P<s>(?:AC|SK)[a-f0-9]{32})\b",
            // Anchorless: the prefilter's anchors match without case, and
            // "ac"/"sk" are in half the words of build output.
            anchors: &[],
            check: None,
            examples: &[(
                "TWILIO_API_KEY=SK0123456789abcdef0123456789abcdef",
                "SK0123456789abcdef0123456789abcdef",
            )],
            non_examples: &["ACME corp"],
        },
        Builtin {
            name: "jwt",
            placeholder: secret("secret:jwt"),
            pattern: r"\b(?P<s>eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}(?:\.[A-Za-z0-9_\-]*)?)",
            anchors: &["eyJ"],
            check: None,
            examples: &[(
                "Set-Cookie: session=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0; Path=/",
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0",
            )],
            non_examples: &["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"],
        },
        Builtin {
            name: "vendor-token",
            placeholder: secret("secret:token"),
            pattern: concat!(
                r"\b(?P<s>(?:hv[sbr]\.|hf_|api_org_|sntry[su]_|sntrs_|glsa_|glc_|do[potr]_v1_|ops_eyJ|fo1_|fm[12][ar]?_|dapi|sgp_|sq[pau]_|ntn_|secret_|ATATT3|",
                r"HRKU-|sq0atp-|sq0csp-|shp(?:at|ss|ca|pa)_|tskey-[a-z]+-|lin_api_|figd_|gsk_|vc[pkira]_|cfat_|cfut_|cfk_|dckr_pat_|sha256~|PMAK-|NRAK-|",
                r"xai-|pul-|dp\.pt\.|dp\.st\.|CLOJARS_|ico-|API-|v1\.0-|sk-ant-|s-s4t2(?:ud|af)-|bedrock-api-key-)[A-Za-z0-9_\-+/=.,~]{12,})",
                r"|(?P<s2>[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{40,})",
                r"|\b(?P<s3>EAA[A-Za-z0-9][A-Za-z0-9_\-]{29,})"
            ),
            anchors: &[
                "hvs.",
                "hvb.",
                "hvr.",
                "hf_",
                "api_org_",
                "sntrys_",
                "sntryu_",
                "sntrs_",
                "glsa_",
                "glc_",
                "_v1_",
                "ops_eyJ",
                "fo1_",
                "fm1",
                "fm2",
                "dapi",
                "sgp_",
                "sqp_",
                "sqa_",
                "squ_",
                "ntn_",
                "secret_",
                "ATATT3",
                "HRKU-",
                "sq0atp-",
                "sq0csp-",
                "shpat_",
                "shpss_",
                "shpca_",
                "shppa_",
                "tskey-",
                "lin_api_",
                "figd_",
                "gsk_",
                "vcp_",
                "vck_",
                "vci_",
                "vcr_",
                "vca_",
                "cfat_",
                "cfut_",
                "cfk_",
                "dckr_pat_",
                "sha256~",
                "PMAK-",
                "NRAK-",
                "xai-",
                "pul-",
                "dp.pt.",
                "dp.st.",
                "CLOJARS_",
                "ico-",
                "API-",
                "v1.0-",
                "sk-ant-",
                ".atlasv1.",
                "EAA",
                "s-s4t2",
                "bedrock-api-key-",
            ],
            check: Some(check::vendor_token),
            examples: &[
                (
                    "HF_TOKEN=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",
                    "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",
                ),
                (
                    "VAULT_TOKEN=hvs.WdftQiS9uijEOcks2gmk4Pvw",
                    "hvs.WdftQiS9uijEOcks2gmk4Pvw",
                ),
                (
                    "SENTRY_AUTH_TOKEN=sntrys_eyJpYXQiOjE3MDAwMDAwMDAuNSwidXJsIjoiaHR0cHM6Ly9zZW50cnkuZXhhbXBsZSIsIm9yZyI6ImFjbWUifQ==_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ",
                    "sntrys_eyJpYXQiOjE3MDAwMDAwMDAuNSwidXJsIjoiaHR0cHM6Ly9zZW50cnkuZXhhbXBsZSIsIm9yZyI6ImFjbWUifQ==_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ",
                ),
                (
                    "FT_SECRET=s-s4t2af-9c0e5b2d7a41f8e36b05c9d2e71a4f8b3c6d0e9a5b7f2c1d8e4a6b3f0c9d2e7a5b1f",
                    "s-s4t2af-9c0e5b2d7a41f8e36b05c9d2e71a4f8b3c6d0e9a5b7f2c1d8e4a6b3f0c9d2e7a5b1f",
                ),
                (
                    "aws_bearer_token_bedrock = bedrock-api-key-QmVkcm9ja0FQSUtleS1leGFtcGxlLXJhbmRvbQ",
                    "bedrock-api-key-QmVkcm9ja0FQSUtleS1leGFtcGxlLXJhbmRvbQ",
                ),
                (
                    "fb token EAA2isAjIhKtJ0RlgLKOmxgJTeKdNnFRI_BXuDL7DxtpYlSXpf",
                    "EAA2isAjIhKtJ0RlgLKOmxgJTeKdNnFRI_BXuDL7DxtpYlSXpf",
                ),
            ],
            non_examples: &[
                "scripts/release.sh:56:const api_org_controller = require('x');",
                "+ provider registry.terraform.io/hashicorp/aws v5.40.0",
            ],
        },
        Builtin {
            name: "onepassword-secret-key",
            placeholder: secret("secret:token"),
            pattern: r"\b(?P<s>A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5})\b",
            anchors: &["A3-"],
            check: None,
            examples: &[(
                "OP_SECRET_KEY=A3-Q7RK2M-T4XW9B8N6PL-3HJ5F-V8CD2-K6M9R",
                "A3-Q7RK2M-T4XW9B8N6PL-3HJ5F-V8CD2-K6M9R",
            )],
            non_examples: &["paper size A3-PORTRAIT", "cell A3-B7"],
        },
        Builtin {
            name: "softlayer-key",
            placeholder: secret("secret:token"),
            pattern: r"(?i)api\.softlayer\.com/(?:soap|rest|mobile)/v3(?:\.1)?/(?P<s>[a-z0-9]{64})\b",
            anchors: &["softlayer.com/"],
            check: None,
            examples: &[(
                "POST https://api.softlayer.com/rest/v3.1/7c1d9e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8d/SoftLayer_Account",
                "7c1d9e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8d",
            )],
            non_examples: &["see https://api.softlayer.com/rest/v3.1/SoftLayer_Account/getObject"],
        },
        Builtin {
            name: "telegram-bot-token",
            placeholder: secret("secret:token"),
            pattern: r"(?:^|[^0-9])(?P<s>\d{8,10}:AA[A-Za-z0-9_\-]{32,35})",
            anchors: &[":AA"],
            check: None,
            examples: &[(
                "TELEGRAM_BOT_TOKEN=110201543:AAHdqTcvCH1vGWJxfSe1ofSAs0K5PALDsaw",
                "110201543:AAHdqTcvCH1vGWJxfSe1ofSAs0K5PALDsaw",
            )],
            non_examples: &["12:AA"],
        },
        Builtin {
            name: "discord-bot-token",
            placeholder: secret("secret:token"),
            pattern: r"\b(?P<s>[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38})\b",
            anchors: &[],
            check: None,
            examples: &[(
                "DISCORD_TOKEN=MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
                "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
            )],
            non_examples: &["Maven.central.repo"],
        },
        Builtin {
            name: "mailchimp-key",
            placeholder: secret("secret:token"),
            pattern: r"\b(?P<s>[a-f0-9]{32}-us\d{1,2})\b",
            anchors: &["-us"],
            check: None,
            examples: &[(
                "MAILCHIMP_API_KEY=a2937653ed38c31a43ea46e2b19257db-us2",
                "a2937653ed38c31a43ea46e2b19257db-us2",
            )],
            non_examples: &["locale en-us1"],
        },
        Builtin {
            name: "facebook-app-token",
            placeholder: secret("secret:token"),
            pattern: r"\b(?P<s>\d{15,16}\|[A-Za-z0-9_\-]{20,})",
            anchors: &["|"],
            check: None,
            examples: &[(
                "facebook 1308742762612587|rhoK1cbv0DOU_RTX_87O4MkX7AI",
                "1308742762612587|rhoK1cbv0DOU_RTX_87O4MkX7AI",
            )],
            non_examples: &["a | b"],
        },
        Builtin {
            name: "url-credentials",
            placeholder: secret("secret:password"),
            pattern: r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\x22]*:(?P<s>[^\s@/'\x22]+)@",
            anchors: &["://"],
            check: Some(check::strong_value),
            examples: &[
                (
                    "DATABASE_URL=postgres://app:D7Tq7qHJqnymVKaAd01gI3@db.internal:5432/prod",
                    "D7Tq7qHJqnymVKaAd01gI3",
                ),
                ("https://cafebabe:deadbeef@gems.contribsys.com/", "deadbeef"),
            ],
            non_examples: &[
                "DATABASE_URL=postgres://$PGUSER:$PGPASSWORD@$PGHOST/$PGDATABASE",
                "https://url:8000/ @something else",
                "postgres://localhost:5432/app_test",
            ],
        },
        Builtin {
            name: "authorization-header",
            placeholder: secret("secret:auth"),
            pattern: r#"(?i)\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:(?:bearer|token|basic|bot|digest|apikey|api-key|sso-key|key|jwt|otp|negotiate)\s+)?(?P<s>[A-Za-z0-9_\-.~+/=:|]{8,})"#,
            anchors: &["authorization"],
            check: Some(check::strong_value),
            examples: &[
                (
                    "> Authorization: Basic dG9tYXN6a2FwOmRua21oeFJEeUtkMjd3QQ==",
                    "dG9tYXN6a2FwOmRua21oeFJEeUtkMjd3QQ==",
                ),
                (
                    "curl --header  'Authorization:  5eb4223e-5008-46e5-be67-c7b8f2732305'",
                    "5eb4223e-5008-46e5-be67-c7b8f2732305",
                ),
            ],
            non_examples: &[
                "Authorization: Bearer $GITHUB_TOKEN",
                "error: Authorization header missing",
                "curl -H \"Authorization: Bearer <TOKEN>\" https://x",
            ],
        },
        Builtin {
            name: "bearer-token",
            placeholder: secret("secret:auth"),
            pattern: r"(?i)\bbearer\s+(?P<s>[A-Za-z0-9_\-.~+/=]{16,})",
            anchors: &["bearer"],
            check: Some(check::strong_value),
            examples: &[(
                "-H \"X-Upstream: Bearer 2be6817ca0d0bf21051a71823411ee7729305044\"",
                "2be6817ca0d0bf21051a71823411ee7729305044",
            )],
            non_examples: &["token_type = 'bearer'"],
        },
        Builtin {
            name: "api-key-header",
            placeholder: secret("secret:auth"),
            pattern: r#"(?i)\b(?:x-[a-z0-9\-]*(?:key|token|auth|secret)[a-z0-9\-]*|api-?key|private-token|x-auth)["']?\s*:\s*["']?(?P<s>[A-Za-z0-9_\-.~+/=]{8,})"#,
            anchors: &["key", "token", "auth", "secret"],
            check: Some(check::strong_value),
            examples: &[(
                "X-Api-Key: gMYPLgx5BZHlPoPRKEfxUQG0IZ0bTwd2KyJJ7UAWqRmmjjfY",
                "gMYPLgx5BZHlPoPRKEfxUQG0IZ0bTwd2KyJJ7UAWqRmmjjfY",
            )],
            non_examples: &["#10 3.816 X-JFrog-Art-Api: $API_KEY"],
        },
        Builtin {
            name: "session-cookie",
            placeholder: secret("secret:auth"),
            pattern: r"(?i)\b(?:session|sessionid|sid|jsessionid|phpsessid|connect\.sid|_session|[a-z_]*_session|csrftoken|remember_token|auth_token|access_token|refresh_token|id_token)=(?P<s>[^;\s&'\x22]{8,})",
            anchors: &["sid", "session", "token"],
            check: Some(check::strong_value),
            examples: &[(
                "Cookie: sessionid=93b5ac206efc77d1a830596d8e2e2d2710d0da4b",
                "93b5ac206efc77d1a830596d8e2e2d2710d0da4b",
            )],
            non_examples: &[
                "API_ORG_CREATE(\"https://x/cgi-bin/create?access_token=ACCESS_TOKEN\"),",
            ],
        },
        Builtin {
            name: "password-flag",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?i)(?:^|[\s'"(:])--?(?:[a-z0-9]+[_\-.])*(?:password|passwd|pass|pwd|token|secret|api[_\-]?key|auth[_\-]?token|access[_\-]?token|storepass|keypass|srcstorepass|deststorepass)(?:=|\s+)"#,
                val!()
            ),
            anchors: &["pass", "pwd", "token", "secret", "key"],
            check: Some(check::strong_value),
            examples: &[
                (
                    "+ mongosh --username admin --password Maple$1920 --authenticationDatabase admin",
                    "Maple$1920",
                ),
                (
                    "+ keytool -importkeystore -srckeystore old.jks -srcstorepass BGhBdSTvz0FAP6 -destkeystore x",
                    "BGhBdSTvz0FAP6",
                ),
            ],
            non_examples: &[
                "docker login --password-stdin",
                "Usage: login --user USER --password PASSWORD",
            ],
        },
        Builtin {
            name: "password-short-flag",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?i)(?:\b(?:mysql\w*|mariadb\w*|sshpass|login|az|twine|psql)\b[^|;&]*?|\s-u\s+\S+)\s-p\s*"#,
                val!()
            ),
            anchors: &["-p"],
            check: Some(check::strong_value),
            examples: &[
                (
                    "+ mysql -h db.internal -u root -pRocket$159! -e 'SHOW DATABASES'",
                    "Rocket$159!",
                ),
                (
                    "+ sshpass -p 'jjeci-ccper-mjjfd6' ssh deploy@bastion uptime",
                    "jjeci-ccper-mjjfd6",
                ),
            ],
            non_examples: &[
                "mkdir -p build/out",
                "mysql -u root -p\"$MYSQL_ROOT_PASSWORD\"",
            ],
        },
        Builtin {
            name: "password-tool-args",
            placeholder: secret("secret:password"),
            pattern: r#"(?i)\bredis-cli\b[^|;&]*?\s-a\s+(?P<s>[^\s'"]+)|\bhtpasswd\s+(?:-[a-zA-Z]+\s+)*\S+\s+\S+\s+(?P<s2>[^\s'"]+)|-pass(?:in|out)\s+pass:(?P<s3>[^\s'"]+)"#,
            anchors: &["redis-cli", "htpasswd", "-pass"],
            check: Some(check::strong_value),
            examples: &[
                (
                    "+ redis-cli -h cache -a lstfs-wwwxm-scelr6 PING",
                    "lstfs-wwwxm-scelr6",
                ),
                (
                    "+ openssl pkcs12 -export -passout pass:Dragon!843!",
                    "Dragon!843!",
                ),
            ],
            non_examples: &["redis-cli -h cache PING"],
        },
        Builtin {
            name: "basic-auth-user",
            placeholder: secret("secret:password"),
            pattern: r#"(?:^|\s)(?:-u|--user)(?:\s+|=)["']?[^\s:"'<]*:(?P<s>[^\s"']+)"#,
            anchors: &["-u", "--user"],
            check: Some(check::strong_value),
            examples: &[(
                "curl --cacert ca.crt -u elastic:P@ssw0rd$1 https://localhost:9200",
                "P@ssw0rd$1",
            )],
            non_examples: &[
                "curl -u username:token",
                "curl --user \"$GITHUB_USERNAME:$GITHUB_PASSWORD\" x",
                "curl -u \":\" https://localhost:9200",
            ],
        },
        Builtin {
            name: "password-phrase",
            placeholder: secret("secret:password"),
            pattern: r#"(?i)(?:^|[^:A-Za-z0-9_])password\b[^:=\n]{0,60}?(?:\bto\s+["'](?P<s>[^"'\s]+)["']|:\s+(?P<s2>\S+)\s*$)"#,
            anchors: &["password"],
            check: Some(check::strong_value),
            examples: &[
                (
                    "Initial root password for Jenkins: LA7k9sWe66TH4GjpK7pVdAgFn4LsetJ",
                    "LA7k9sWe66TH4GjpK7pVdAgFn4LsetJ",
                ),
                (
                    "Set password for user 'svc_backup' to 'h6%lvfD3jFU-kVouw4'",
                    "h6%lvfD3jFU-kVouw4",
                ),
            ],
            non_examples: &["Password for user postgres: ", "Password: [MASKED]"],
        },
        Builtin {
            name: "secret-comparison",
            placeholder: secret("secret:password"),
            pattern: r#"(?i)"(?P<s>[^"\s]{4,})"\s*[!=]==?\s*[\w.]*(?:password|passwd|pass|secret|token|key)\b"#,
            anchors: &["pass", "secret", "token", "key"],
            check: Some(check::strong_value),
            examples: &[(
                "if (\"m{{h}o)p${e]nob(ody\" == password) {",
                "m{{h}o)p${e]nob(ody",
            )],
            non_examples: &["if (\"\" == password) {"],
        },
        Builtin {
            name: "xml-password-value",
            placeholder: secret("secret:password"),
            pattern: r#"(?i)key="[^"]*(?:password|secret|token|apikey)[^"]*"\s+value="(?P<s>[^"]+)""#,
            anchors: &["value="],
            check: Some(check::strong_value),
            examples: &[(
                "<add key=\"ClearTextPassword\" value=\"CleartextPassword1\" />",
                "CleartextPassword1",
            )],
            non_examples: &["<add key=\"ClearTextPassword\" value=\"%TestSourcePassword%\" />"],
        },
        Builtin {
            name: "bundler-credentials",
            placeholder: secret("secret:password"),
            pattern: r"\bBUNDLE_[A-Z0-9_]*__[A-Z0-9_]+[=:]\s*(?P<s>[^\s'\x22]+:[^\s'\x22]+)",
            anchors: &["BUNDLE_"],
            check: None,
            examples: &[(
                "export BUNDLE_ENTERPRISE__CONTRIBSYS__COM=cafebabe:deadbeef",
                "cafebabe:deadbeef",
            )],
            non_examples: &["BUNDLE_PATH=vendor/bundle"],
        },
        Builtin {
            name: "env-default",
            placeholder: secret("secret:password"),
            pattern: r#"(?i)\b[\w.]*(?:env|fetch|\.get|default)\(\s*["'][\w.\-]+["']\s*,\s*(?:"(?P<s>[^"\n]+)"|'(?P<s2>[^'\n]+)')"#,
            anchors: &["env(", "fetch(", ".get(", "default("],
            check: Some(keys::any_assignment),
            examples: &[
                (
                    "token := utils.GetEnvOrDefault(\"API_TOKEN\", \"3f6c1e2a-9b7d-4c5e-8a1f-2d3b4c5e6f70\")",
                    "3f6c1e2a-9b7d-4c5e-8a1f-2d3b4c5e6f70",
                ),
                (
                    "db_pass = os.environ.get('DB_PASSWORD', 'Tr0ub4dor&3')",
                    "Tr0ub4dor&3",
                ),
            ],
            non_examples: &[
                "region = os.getenv(\"AWS_REGION\", \"eu-west-1\")",
                "token = os.getenv(\"API_TOKEN\", \"\")",
                "key = ENV.fetch('SECRET_KEY_BASE', 'changeme')",
                "build target(\"api_token\", \"Tr0ub4dor&3x\")",
            ],
        },
        Builtin {
            name: "secret-directive",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?i)^(?:[\w./\-]+:\d+:|#\d+\s+[\d.]+\s+)?[\s+\-]*[A-Za-z_][\w.\-]*\s+"#,
                r#"(?:"(?P<s>[^"\n]+)"|'(?P<s2>[^'\n]+)')\s*[;,]?\s*$"#
            ),
            anchors: &[
                "pass",
                "pwd",
                "secret",
                "token",
                "key",
                "credential",
                "auth",
            ],
            check: Some(keys::strong_assignment),
            examples: &[
                ("+secret_key \"q8Zr!vN2@xLp7$Wm\";", "q8Zr!vN2@xLp7$Wm"),
                ("  password 'Sunflower-42'", "Sunflower-42"),
            ],
            non_examples: &[
                "error: unexpected token \"else\"",
                "  password \"$DB_PASSWORD\"",
                "  secret_name \"prod-db\"",
            ],
        },
        Builtin {
            name: "secret-assignment",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?i)[\w.\-]*(?:pass|pwd|secret|token|key|credential|auth|pin)[\w.\-]*"#,
                sep!(),
                val!()
            ),
            anchors: &[
                "pass",
                "pwd",
                "secret",
                "token",
                "key",
                "credential",
                "auth",
                "pin",
            ],
            check: Some(keys::strong_assignment),
            examples: &[
                (
                    "password = \"value with quotes and spaces\"",
                    "value with quotes and spaces",
                ),
                (
                    "+ PGPASSWORD=Winter$1977! psql -h localhost",
                    "Winter$1977!",
                ),
                (
                    "ansible/group_vars/all.yml:50:db_pass: m{{h}o)p${e]nob(ody[finds>-_$#thisone}},",
                    "m{{h}o)p${e]nob(ody[finds>-_$#thisone}}",
                ),
                (
                    "client_secret: Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB",
                    "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB",
                ),
                (
                    "signing_secret: !!binary c2lnbmluZy1zZWNyZXQtdmFsdWUtOTk=",
                    "c2lnbmluZy1zZWNyZXQtdmFsdWUtOTk=",
                ),
            ],
            non_examples: &[
                "secret_length = X25519.secret_length",
                "token_type = 'bearer'",
                "password = os.environ[\"DB_PASSWORD\"]",
                "password: ${{ secrets.DB_PASSWORD }}",
                "api_key: YOUR_API_KEY_HERE",
                "private_key_path = \"keys/deploy.pem\"",
                "fn verify_token(token: &str) -> Result<Claims, Error> {",
                "docker-compose.yml:59:PuttyPassword=0",
            ],
        },
        Builtin {
            name: "high-entropy-assignment",
            placeholder: secret("secret"),
            pattern: concat!(
                r#"(?i)[\w.\-]*(?:key|secret|token|login|credential|auth|access|signature|cookie|session)[\w.\-]*"#,
                sep!(),
                val!()
            ),
            anchors: &[
                "key",
                "secret",
                "token",
                "login",
                "credential",
                "auth",
                "access",
                "signature",
                "cookie",
                "session",
            ],
            check: Some(keys::weak_assignment),
            examples: &[
                (
                    "#8 0.021 SUMO_ACCESS_ID = \"suGyI5imvADdvU\"",
                    "suGyI5imvADdvU",
                ),
                (
                    "const mapboxKey = \"0A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D\"",
                    "0A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D",
                ),
            ],
            non_examples: &[
                "\"kms_key_id\": \"555ea4a3-d53a-4412-9c66-3a7cb667b0d6\",",
                "build_access_id: 7d2c9a41-03be-4f6a-9e15-c84b2d7f0a63",
                "keyword: \"Befaehigung_P2\"",
                "+const keyStr = \"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789\"",
            ],
        },
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
            pattern: r"\b(?P<s>\d(?:[ \-]?\d){12,18})\b",
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
            ],
            non_examples: &["elapsed_ms=1709550121000", "card 4111111111111112 declined"],
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

#[cfg(test)]
mod tests {
    use crate::Scrubber;

    #[test]
    fn names_are_unique() {
        let rules = super::builtins();
        let mut names: Vec<_> = rules.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), rules.len());
    }

    #[test]
    fn each_rule_removes_its_examples() {
        let s = Scrubber::default();
        for rule in super::builtins() {
            for (line, secret) in rule.examples {
                let findings = s.explain(line);
                assert!(
                    findings
                        .iter()
                        .any(|f| f.rule == rule.name && line[f.start..f.end].contains(secret)),
                    "rule {} did not find {secret:?} in {line:?}: {findings:?}",
                    rule.name
                );
                let out = s.scrub_line(line);
                assert!(
                    !out.contains(secret),
                    "rule {}: {line:?} -> {out:?}",
                    rule.name
                );
            }
        }
    }

    #[test]
    fn each_rule_leaves_its_non_examples() {
        let s = Scrubber::default();
        for rule in super::builtins() {
            for line in rule.non_examples {
                let hits: Vec<_> = s
                    .explain(line)
                    .into_iter()
                    .filter(|f| f.rule == rule.name)
                    .collect();
                assert!(
                    hits.is_empty(),
                    "rule {} fired on {line:?}: {hits:?}",
                    rule.name
                );
            }
        }
    }
}
