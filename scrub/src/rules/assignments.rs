//! Rules for secrets known by what stands before them: auth headers, password
//! flags and phrases, `key = value` assignments under a secret key name.

use super::{Builtin, secret};
use crate::check;
use crate::keys;

/// This file's rules, in priority order.
pub(super) fn rules() -> Vec<Builtin> {
    vec![
        Builtin {
            name: "authorization-header",
            placeholder: secret("secret:auth"),
            pattern: r#"(?i)\b(?:proxy-)?authorization["']?\s*[:=]\s*["'`]?(?:(?:bearer|token|basic|bot|digest|apikey|api-key|sso-key|key|jwt|otp|negotiate)\s+)?(?P<s>[A-Za-z0-9_\-.~+/=:|]{8,})"#,
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
            pattern: r"(?i)\bbearer\s+(?P<s>[A-Za-z0-9_\-.~+/=]{16,}|[A-Za-z0-9_\-.~+/=!@#$%^&*?:]{12,})",
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
            pattern: r#"(?i)\b(?:x-[a-z0-9\-]*(?:key|token|auth|secret|pass|pwd)[a-z0-9\-]*|api-?key|private-token|x-auth)["']?\s*:\s*["']?(?P<s>[^\s"'<>]{8,})"#,
            anchors: &["key", "token", "auth", "secret", "pass", "pwd"],
            check: Some(check::strong_value),
            examples: &[
                (
                    "X-Api-Key: gMYPLgx5BZHlPoPRKEfxUQG0IZ0bTwd2KyJJ7UAWqRmmjjfY",
                    "gMYPLgx5BZHlPoPRKEfxUQG0IZ0bTwd2KyJJ7UAWqRmmjjfY",
                ),
                (
                    "http POST api.example.com/items X-Db-Password:Nr=N8!DS!/3$I=:(!Du name=x",
                    "Nr=N8!DS!/3$I=:(!Du",
                ),
            ],
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
            // Tools whose documented argument after a flag or a fixed
            // position is a password: `redis-cli -a`, `zip -P`, `ldapsearch
            // -w`, `sqlcmd -P`, `rabbitmqctl add_user USER PASS`, `composer
            // config http-basic.HOST USER PASS`, `htpasswd -b FILE USER PASS`,
            // redis.conf's `requirepass` / `masterauth`, OpenSSL's `pass:`.
            pattern: concat!(
                r#"(?i)(?:\bredis-cli\b[^|;&\n]*?\s-a\s|\bzip\b[^|;&\n]*?\s-P\s|\bldap\w+\b[^|;&\n]*?\s-w\s"#,
                r#"|\bsqlcmd\b[^|;&\n]*?\s-P\s|\brabbitmqctl\s+(?:add_user|change_password)\s+\S+\s"#,
                r#"|\b(?:composer|poetry)\s+config\b[^|;&\n]*?\bhttp-basic\.\S+\s+\S+\s"#,
                r#"|\bpoetry\s+config\b[^|;&\n]*?\bpypi-token\.\S+\s"#,
                r#"|\bhtpasswd\s+(?:-[a-zA-Z]+\s+)*-[a-zA-Z]*b[a-zA-Z]*\s+(?:-[a-zA-Z]+\s+)*\S+\s+\S+\s"#,
                r#"|^\s*(?:requirepass|masterauth)\s|-pass(?:in|out)\s+pass:)\s*"#,
                val!()
            ),
            anchors: &[
                "redis-cli",
                "zip",
                "ldap",
                "sqlcmd",
                "rabbitmqctl",
                "composer",
                "poetry",
                "htpasswd",
                "requirepass",
                "masterauth",
                "-pass",
            ],
            check: Some(check::strong_value),
            examples: &[
                (
                    "+ redis-cli -h cache -a lstfs-wwwxm-scelr6 PING",
                    "lstfs-wwwxm-scelr6",
                ),
                (
                    "redis-cli -h cache -a 'Saturn!923lemon' ping",
                    "Saturn!923lemon",
                ),
                (
                    "+ openssl pkcs12 -export -passout pass:Dragon!843!",
                    "Dragon!843!",
                ),
                (
                    "zip -P Copper.1222velvet backup.zip db.sql",
                    "Copper.1222velvet",
                ),
                (
                    "ldapsearch -x -D cn=admin,dc=acme -w Harbor!3570velvet -b dc=acme",
                    "Harbor!3570velvet",
                ),
                (
                    "rabbitmqctl add_user svc 'rt2aT-62RaRFc8nwDucWjExm'",
                    "rt2aT-62RaRFc8nwDucWjExm",
                ),
                (
                    "htpasswd -b -c .htpasswd admin 'o1HD7NlWpopgVHkaRZSjoumQQFQ'",
                    "o1HD7NlWpopgVHkaRZSjoumQQFQ",
                ),
                ("requirepass Pepper?9986lemon", "Pepper?9986lemon"),
                (
                    "composer config --global http-basic.repo.acme.io ci Quartz?5042orbit",
                    "Quartz?5042orbit",
                ),
            ],
            non_examples: &[
                "redis-cli -h cache PING",
                "htpasswd -c .htpasswd admin",
                "zip -r backup.zip db/",
                "requirepass \"$REDIS_PASSWORD\"",
            ],
        },
        Builtin {
            name: "password-glued-args",
            placeholder: secret("secret:password"),
            // The password glued to its flag: `7z a -pSECRET`, `smbclient -U user%SECRET`.
            pattern: concat!(
                r#"(?i)(?:\b7za?\b[^|;&\n]*?\s-p|\bsmbclient\b[^|;&\n]*?\s-U\s*[^\s%'"]+%)"#,
                val!()
            ),
            anchors: &["7z", "smbclient"],
            check: Some(check::strong_value),
            examples: &[
                (
                    "7z a -pQuartz&8973ember backup.7z db.sql",
                    "Quartz&8973ember",
                ),
                (
                    "smbclient //files/share -U svc%River_7848zebra",
                    "River_7848zebra",
                ),
            ],
            non_examples: &[
                "7z x archive.7z -o/tmp/out",
                "smbclient //files/share -U svc",
            ],
        },
        Builtin {
            name: "user-pass-args",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?i)\bhttps?\s(?:[^|;&\n]*?\s)?(?:-a|--auth)[\s=]+["']?[^\s:"'\[]+:(?P<s>[^\s"']+)"#,
                r#"|\blftp\b[^|;&\n]*?\s-u\s+["']?[^\s,"']+,(?P<s2>[^\s"']+)"#,
                r#"|\bnet\s+use\b[^|;&\n]*?/user:\S+\s+(?P<s3>[^\s/"'][^\s"']*)"#
            ),
            anchors: &["http ", "https ", "lftp", "/user:"],
            check: Some(check::strong_value),
            examples: &[
                (
                    "http -a admin:Summi=18! GET https://api.example.com/status",
                    "Summi=18!",
                ),
                (
                    "lftp -u backup,Cw0/VOF#OeI#(DP sftp://backup.example.com",
                    "Cw0/VOF#OeI#(DP",
                ),
                (
                    "net use Z: \\\\files\\share /user:ACME\\svc 7AxS$r(+=yuecf",
                    "7AxS$r(+=yuecf",
                ),
            ],
            non_examples: &[
                "http -a \"$USER:$PASS\" GET https://api.example.com",
                "lftp -u backup sftp://backup.example.com",
                "net use Z: \\\\files\\share /user:ACME\\svc /persistent:no",
            ],
        },
        Builtin {
            name: "piped-password",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?i)\b(?:echo\s+(?:-n\s+)?|printf\s+(?:["']%s(?:\\n)?["']\s+)?)"#,
                r#"(?:"(?P<s>[^"\n]+)"|'(?P<s2>[^'\n]+)'|(?P<s3>[^\s|'"]+))\s*\|\s*"#,
                r#"(?:sudo\s+(?:-\w+\s+)*-S\b|[^|;&\n]*?--(?:password-stdin|with-token)\b|passwd\s+--stdin\b|chpasswd\b)"#
            ),
            anchors: &["sudo", "stdin", "chpasswd", "with-token"],
            check: Some(check::strong_value),
            examples: &[
                (
                    "echo 'dF3tMsa#d.ceOYTx_rjo' | sudo -S systemctl restart app",
                    "dF3tMsa#d.ceOYTx_rjo",
                ),
                (
                    "echo Hunter2x99 | docker login -u ci --password-stdin ghcr.io",
                    "Hunter2x99",
                ),
            ],
            non_examples: &[
                "echo \"$TOKEN\" | docker login ghcr.io -u ci --password-stdin",
                "echo done | tee log.txt",
            ],
        },
        Builtin {
            name: "config-set-pair",
            placeholder: secret("secret"),
            // `npm config set KEY VALUE`, `aws configure set KEY VALUE`,
            // `git config --global KEY VALUE`: a key and its value as two
            // arguments; the key decides as in an assignment.
            pattern: concat!(
                r#"(?i)\b(?:config|configure)\s+(?:set\s+)?(?:-{1,2}[\w-]+\s+)*[^\s=]*[A-Za-z_]\s+"#,
                val!()
            ),
            anchors: &["config"],
            check: Some(keys::any_assignment),
            examples: &[
                (
                    "npm config set //registry.npmjs.org/:_authToken 4f9d2c1a-7b3e-4a8f-9c2d-1e5b6a7c8d9e",
                    "4f9d2c1a-7b3e-4a8f-9c2d-1e5b6a7c8d9e",
                ),
                (
                    "yarn config set npmAuthToken Zq8xLm3Kd9Pw2Rt7Vb5Nc1",
                    "Zq8xLm3Kd9Pw2Rt7Vb5Nc1",
                ),
                (
                    "git config --global github.token 0f3c9a7e41d2b8c6e5a4f3d2c1b0a9e8d7c6b5a4",
                    "0f3c9a7e41d2b8c6e5a4f3d2c1b0a9e8d7c6b5a4",
                ),
            ],
            non_examples: &[
                "npm config set registry https://registry.npmjs.org/",
                "git config --global user.name alice",
                "npm config set //registry.npmjs.org/:_authToken ${NPM_TOKEN}",
            ],
        },
        Builtin {
            name: "herestring-secret",
            placeholder: secret("secret"),
            // `read -r TOKEN <<< "…"`: a here-string read into a secret-named variable.
            pattern: concat!(
                r#"(?i)\bread\s+(?:-\w+\s+)*\w*(?:token|secret|pass|pwd|key)\w*\s*<<<\s*"#,
                val!()
            ),
            anchors: &["<<<"],
            check: Some(check::strong_value),
            examples: &[(
                "read -r TOKEN <<< \"6mBeFpatAXHX0rNiUHOVwKiIl\"",
                "6mBeFpatAXHX0rNiUHOVwKiIl",
            )],
            non_examples: &[
                "read -r TOKEN <<< \"$(cat token.txt)\"",
                "read -r NAME <<< \"alice\"",
            ],
        },
        Builtin {
            name: "pgpass-line",
            placeholder: secret("secret:password"),
            // A `.pgpass` line: host:port:database:user:password (`*` wildcards allowed).
            pattern: r"^\s*(?:[A-Za-z*][\w.\-]*|\d+\.[\d.]+):(?:\d{2,5}|\*):(?:[\w.\-]+|\*):[\w.\-@]+:(?P<s>\S+)\s*$",
            anchors: &[],
            check: Some(check::strong_value),
            examples: &[(
                "db.example.com:5432:app:app:xj8hV7Gh7c002yiblkrORtNiIq",
                "xj8hV7Gh7c002yiblkrORtNiIq",
            )],
            non_examples: &["localhost:5432:*:postgres:*", "10:22:01:INFO:started"],
        },
        Builtin {
            name: "sql-password",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?i)\b(?:identified\s+by|(?:with|login|encrypted|unencrypted)\s+password)\s+'(?P<s>[^'\n]+)'"#,
                r#"|\bset\s+password\b[^=\n]{0,60}=\s*(?:password\s*\(\s*)?'(?P<s2>[^'\n]+)'"#
            ),
            anchors: &["identified", "password"],
            check: Some(check::strong_value),
            examples: &[
                ("CREATE USER app IDENTIFIED BY 'Coba(60!';", "Coba(60!"),
                (
                    "ALTER ROLE reporting WITH LOGIN PASSWORD 'Riv=23x';",
                    "Riv=23x",
                ),
                ("SET PASSWORD FOR 'app'@'%' = 'River(36x';", "River(36x"),
            ],
            non_examples: &[
                "ALTER USER app IDENTIFIED BY '${APP_PASSWORD}';",
                "ALTER ROLE app WITH PASSWORD NULL;",
                "UPDATE users SET password = crypt($1, gen_salt('bf')) WHERE id = $2;",
            ],
        },
        Builtin {
            name: "credential-call",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?i)(?:\bauth\s*=\s*\(|\b\w*(?:basicauth|credential)\w*\s*\()\s*"#,
                r#"["'][^"'\n]*["']\s*,\s*(?:"(?P<s>[^"\n]+)"|'(?P<s2>[^'\n]+)')"#
            ),
            anchors: &["auth", "credential"],
            check: Some(check::strong_value),
            examples: &[
                (
                    "r = requests.get(url, auth=(\"svc\", \"Har(27x\"))",
                    "Har(27x",
                ),
                ("req.SetBasicAuth(\"svc\", \"Cobal=77x\")", "Cobal=77x"),
                (
                    "var cred = new NetworkCredential(\"svc\", \"L:uoD8lp2GT?*#NF\");",
                    "L:uoD8lp2GT?*#NF",
                ),
            ],
            non_examples: &[
                "r = requests.get(url, auth=(user, password))",
                "req.SetBasicAuth(\"svc\", os.Getenv(\"PASS\"))",
                "auth = HTTPBasicAuth('svc', '')",
            ],
        },
        Builtin {
            name: "netrc-password",
            placeholder: secret("secret:password"),
            pattern: r#"(?i)\bmachine\s+\S+\s+login\s+\S+\s+password\s+(?P<s>\S+)"#,
            anchors: &["machine"],
            check: Some(check::strong_value),
            examples: &[(
                "machine api.example.com login ci password Har=78!",
                "Har=78!",
            )],
            non_examples: &["machine api.example.com login ci password $NETRC_PASSWORD"],
        },
        Builtin {
            name: "credential-prose",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?i)\b(?:creds|credentials|login)\b[^:\n]{0,40}?(?::|->)\s*"#,
                r#"[\w.\-]{2,32}\s*(?:/|:)\s*(?P<s>[^\s"']+)"#
            ),
            anchors: &["creds", "credentials", "login"],
            check: Some(|c| {
                let v = &c.line[c.start..c.end];
                !v.ends_with(b":") && crate::context::secretish(v, 6)
            }),
            examples: &[
                ("credentials for staging: admin / Tige(91", "Tige(91"),
                (
                    "creds for staging -> admin:EWjhZoQ3H3ukQJLcucQPRXU8A",
                    "EWjhZoQ3H3ukQJLcucQPRXU8A",
                ),
            ],
            non_examples: &[
                "credentials for staging are in the vault",
                "login: admin / password: <ask ops>",
                "Login: https://sso.example.com/login",
            ],
        },
        Builtin {
            name: "basic-auth-user",
            placeholder: secret("secret:password"),
            pattern: r#"(?:^|\s)(?:-u|--user)(?:\s+|=)["']?[^\s:"'<\[]*:(?P<s>[^\s"']+)"#,
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
                "  -u, --user USER[:PASSWORD]  server user and password",
            ],
        },
        Builtin {
            name: "password-phrase",
            placeholder: secret("secret:password"),
            pattern: r#"(?i)(?:^|[^:A-Za-z0-9_])password\b[^:=\n]{0,60}?(?:\bto\s+["'](?P<s>[^"'\s]+)["']|:\s+(?P<s2>[^\s,;]+)[,;]?\s*$)"#,
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
            non_examples: &[
                "Password for user postgres: ",
                "Password: [MASKED]",
                "password: hashedPassword,",
                "Password: cfg.Password,",
            ],
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
            name: "query-secret",
            placeholder: secret("secret:password"),
            pattern: r#"(?i)[?&;][\w.\-]*(?:pass|pwd|secret|token|key|auth|sig)[\w.\-]*=(?P<s>[^&\s"'#;<>]+)"#,
            anchors: &["pass", "pwd", "secret", "token", "key", "auth", "sig"],
            check: Some(keys::any_assignment),
            examples: &[(
                "jdbc:postgresql://db:5432/billing?user=billing&password=zOdeKil783a~tFs&ssl=true",
                "zOdeKil783a~tFs",
            )],
            non_examples: &[
                "GET /search?q=token&page=2",
                "/v1/items?api_key=$API_KEY&x=1",
            ],
        },
        Builtin {
            name: "secret-assignment",
            placeholder: secret("secret:password"),
            pattern: concat!(
                r#"(?i)[\w.\-]*(?:pass|pw|psk|secret|token|key|credential|auth|pin|salt|pepper|mnemonic|kennwort|senha|contrasena|wachtwoord|losenord|salasana|haslo)[\w.\-]*"#,
                sep!(),
                val!()
            ),
            anchors: &[
                "pass",
                "pw",
                "psk",
                "secret",
                "token",
                "key",
                "credential",
                "auth",
                "pin",
                "salt",
                "pepper",
                "mnemonic",
                "kennwort",
                "senha",
                "contrasena",
                "wachtwoord",
                "losenord",
                "salasana",
                "haslo",
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
                (
                    "db_bind_pw: CJL80W4GYIJUEKJ0JS1MCY",
                    "CJL80W4GYIJUEKJ0JS1MCY",
                ),
                ("\"{\\\"dbPass\\\":\\\"Hunter2!x99\\\"}\"", "Hunter2!x99"),
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
                "kubectl create secret generic app --from-file=password=./pw.txt",
                "r = requests.get(url, auth=(user, password))",
                "password: $DB_PASSWORD",
            ],
        },
        Builtin {
            name: "high-entropy-assignment",
            placeholder: secret("secret"),
            pattern: concat!(
                r#"(?i)[\w.\-]*(?:key|secret|token|login|credential|auth|access|signature|cookie|session|seed|private|license|refresh|assertion|recovery)[\w.\-]*"#,
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
                "seed",
                "private",
                "license",
                "refresh",
                "assertion",
                "recovery",
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
            name: "named-random-value",
            placeholder: secret("secret"),
            // A secret word in a comment or a sentence, then within a few words
            // a `:` or `=` and a random-looking value: `# api secret (rotate
            // monthly): …`, `/* signing secret */ const S = '…'`, `here's the
            // key you asked for: …`. Only high-entropy values count, so prose
            // such as "token: expired" is left alone.
            pattern: concat!(
                r#"(?i)\b(?:secret|passphrase|password|token|key)s?\b[^\n"'=:`]{0,40}?"#,
                r#"(?:\*/[^\n"'=:`]{0,30}?)?(?::|=)\s*"#,
                val!()
            ),
            anchors: &["secret", "passphrase", "password", "token", "key"],
            check: Some(check::random_value),
            examples: &[
                (
                    "# api secret (rotate monthly): baioxrUOYsh838FpK8rkNkuKjzZ6",
                    "baioxrUOYsh838FpK8rkNkuKjzZ6",
                ),
                (
                    "/* signing secret */ const S = 'IZfQw8wvSrJtywnOcDcxt16jSlKOzDIRE0fU';",
                    "IZfQw8wvSrJtywnOcDcxt16jSlKOzDIRE0fU",
                ),
                (
                    "here's the key you asked for: 63a0ff01264e0c3e87f5be5eafa68ed918acd3cd",
                    "63a0ff01264e0c3e87f5be5eafa68ed918acd3cd",
                ),
            ],
            non_examples: &[
                "error: token expired: please log in again",
                "key (primary): id",
                "the secret store: vault",
            ],
        },
        Builtin {
            name: "use-as-secret",
            placeholder: secret("secret"),
            // `use … as the api token`: the value named by the words after it.
            pattern: r#"(?i)\buse\s+["'`]?(?P<s>[^\s"'`]{8,})["'`]?\s+as\s+(?:the\s+|an?\s+|my\s+|our\s+|your\s+)?(?:[\w-]+\s+){0,2}(?:token|key|secret|password|passphrase|credential)s?\b"#,
            anchors: &[" as "],
            check: Some(check::strong_value),
            examples: &[(
                "use 2D45C-taiTLB83hSlr2rS as the api token for now",
                "2D45C-taiTLB83hSlr2rS",
            )],
            non_examples: &[
                "use $API_TOKEN as the api token",
                "use vault as the secret store",
            ],
        },
    ]
}
