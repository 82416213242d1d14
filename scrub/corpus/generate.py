#!/usr/bin/env python3
"""Generate the scrubber's own labelled corpora: tune.jsonl and holdout.jsonl.

Same JSON-lines format as shared/data/secrets/cases.jsonl (id, text, secrets,
kind; negatives have secrets [] and kind "negative:<what>"). Every secret is a
random value made here from a fixed seed; none is a real credential.

The two splits do not share templates, key names or value generators: each
list below is shuffled with SPLIT_SEED and cut in two, the first half for
tune, the second for holdout. Tune on tune.jsonl only; holdout.jsonl measures
how the rules carry over to syntax, key names and values they were not
shaped on.

    python3 scrub/corpus/generate.py          # writes scrub/corpus/{tune,holdout}.jsonl
"""
import json
import os
import random
import string

SPLIT_SEED = 20261202
CASES_PER_SPLIT = 1400
NEGATIVE_SHARE = 0.45

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"


def rstr(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def mixed(rng, n, alphabet=ALNUM):
    """A random value with upper, lower and digit characters."""
    while True:
        v = rstr(rng, alphabet, n)
        if any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v):
            return v


# ---------------------------------------------------------------- values
WORDS = ["maple", "river", "tiger", "orbit", "copper", "lemon", "falcon", "winter", "cobalt",
         "saturn", "pepper", "meadow", "harbor", "velvet", "zebra", "quartz", "summit", "ember"]
SYMBOLS = "!#$%&*+-.?@^_~:"


def v_password_words(rng):
    w = rng.sample(WORDS, 2)
    return w[0].capitalize() + rng.choice("$@!#%") + w[1] + str(rng.randint(10, 9999))


def v_password_symbols(rng):
    n = rng.randint(12, 20)
    while True:
        v = rstr(rng, ALNUM + SYMBOLS, n)
        if sum(c in SYMBOLS for c in v) >= 2 and any(c.isdigit() for c in v) and v[0] not in "-#":
            return v


def v_password_dollar_at(rng):
    return rstr(rng, ALNUM, rng.randint(4, 7)) + "$" + rstr(rng, ALNUM, 3) + "@" + str(rng.randint(1, 99)) + ":" + rstr(rng, ALNUM, 4)


def v_password_leet(rng):
    w = rng.choice(WORDS)
    table = str.maketrans("aeios", "43105")
    return w.translate(table).capitalize() + rng.choice(["!", "?", "$$", "#1", "@2024"]) + rstr(rng, string.digits, 2)


def v_alnum(rng):
    return mixed(rng, rng.randint(20, 40))


def v_hex32(rng):
    return rstr(rng, HEX, rng.choice([32, 40, 48]))


def v_hex64(rng):
    return rstr(rng, HEX, 64)


def v_b64(rng):
    n = rng.choice([24, 32, 44])
    body = mixed(rng, n - 1, B64)
    return body + "="


def v_urlsafe(rng):
    return mixed(rng, rng.randint(24, 43), URLSAFE).strip("-_") + rstr(rng, ALNUM, 2)


def v_uuid(rng):
    h = rstr(rng, HEX, 32)
    return "%s-%s-4%s-%s%s-%s" % (h[:8], h[8:12], h[13:16], rng.choice("89ab"), h[17:20], h[20:32])


def v_prefixed(rng):
    return rng.choice(["live_", "prod-", "tok_", "key-"]) + mixed(rng, rng.randint(20, 32))


VALUE_GENERATORS = [v_password_words, v_password_symbols, v_password_dollar_at, v_password_leet,
                    v_alnum, v_hex32, v_hex64, v_b64, v_urlsafe, v_uuid, v_prefixed]

# ---------------------------------------------------------------- key names
KEY_WORDS = [
    ["password"], ["db", "password"], ["admin", "password"], ["smtp", "password"], ["redis", "password"],
    ["passwd"], ["pwd"], ["root", "pass"], ["mysql", "root", "password"], ["user", "password"],
    ["secret"], ["client", "secret"], ["app", "secret"], ["jwt", "secret"], ["webhook", "secret"],
    ["shared", "secret"], ["consumer", "secret"], ["cookie", "secret"], ["session", "secret"],
    ["secret", "key"], ["api", "key"], ["api", "secret"], ["access", "key"], ["private", "key"],
    ["signing", "key"], ["encryption", "key"], ["master", "key"], ["hmac", "key"], ["account", "key"],
    ["storage", "key"], ["license", "key"], ["service", "key"], ["auth", "key"],
    ["token"], ["auth", "token"], ["access", "token"], ["refresh", "token"], ["bearer", "token"],
    ["api", "token"], ["deploy", "token"], ["session", "token"], ["oauth", "token"], ["bot", "token"],
    ["sas", "token"], ["registry", "token"], ["slack", "token"], ["personal", "access", "token"],
    ["passphrase"], ["key", "passphrase"], ["credentials"], ["auth"], ["session"], ["api", "secret", "key"],
    ["default", "key"], ["vault", "token"], ["ci", "token"], ["app", "key"], ["client", "key"],
]


def style(words, how):
    if how == "snake":
        return "_".join(words)
    if how == "upper":
        return "_".join(words).upper()
    if how == "kebab":
        return "-".join(words)
    if how == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if how == "pascal":
        return "".join(w.capitalize() for w in words)
    if how == "dotted":
        return ".".join(words)
    return "".join(words)


STYLES = ["snake", "upper", "kebab", "camel", "pascal", "dotted", "flat"]


# ---------------------------------------------------------------- keyed templates
# Each: (name, styles it accepts, fn(rng, key, value) -> text). The value is the secret.
def _host(rng):
    return rng.choice(["db", "cache", "mq", "api", "auth"]) + "%d.prod.example.com" % rng.randint(1, 9)


KEYED = [
    ("dotenv", ["upper"], lambda r, k, v: "%s=%s" % (k, v)),
    ("dotenv-export", ["upper"], lambda r, k, v: 'export %s="%s"' % (k, v)),
    ("yaml", ["snake", "camel", "kebab"], lambda r, k, v: "  %s: %s" % (k, v)),
    ("yaml-quoted", ["snake", "camel"], lambda r, k, v: "%s: '%s'" % (k, v)),
    ("ini", ["snake", "flat", "kebab"], lambda r, k, v: "%s = %s" % (k, v)),
    ("toml", ["snake", "flat"], lambda r, k, v: '%s = "%s"' % (k, v)),
    ("json", ["camel", "snake"], lambda r, k, v: '{"user": "svc", "%s": "%s", "port": 5432}' % (k, v)),
    ("json-line", ["camel", "snake", "pascal"], lambda r, k, v: '    "%s": "%s",' % (k, v)),
    ("xml-element", ["camel", "flat", "pascal"], lambda r, k, v: "  <%s>%s</%s>" % (k, v, k)),
    ("xml-add", ["pascal", "camel"], lambda r, k, v: '<add key="%s" value="%s" />' % (k, v)),
    ("xml-property", ["dotted", "snake"], lambda r, k, v: '<property name="%s" value="%s"/>' % (k, v)),
    ("xml-attr", ["camel", "flat"], lambda r, k, v: '<connection host="%s" %s="%s" timeout="30"/>' % (_host(r), k, v)),
    ("properties", ["dotted"], lambda r, k, v: "spring.datasource.%s=%s" % (k, v)),
    ("properties-colon", ["dotted", "camel"], lambda r, k, v: "app.%s: %s" % (k, v)),
    ("dockerfile-env", ["upper"], lambda r, k, v: "ENV %s=%s" % (k, v)),
    ("dockerfile-arg", ["upper"], lambda r, k, v: 'ARG %s="%s"' % (k, v)),
    ("cli-flag", ["kebab"], lambda r, k, v: "$ deploy-tool push --region eu-west-1 --%s %s --verbose" % (k, v)),
    ("cli-flag-eq", ["kebab"], lambda r, k, v: "+ ./bin/migrate --%s=%s --dry-run" % (k, v)),
    ("shell-history", ["upper"], lambda r, k, v: "  512  %s='%s' ./run.sh" % (k, v)),
    ("python-const", ["upper"], lambda r, k, v: '%s = "%s"' % (k, v)),
    ("python-dict", ["snake"], lambda r, k, v: "settings = {'host': 'localhost', '%s': '%s'}" % (k, v)),
    ("python-kwarg", ["snake"], lambda r, k, v: "client = Client(host='%s', %s='%s')" % (_host(r), k, v)),
    ("python-setitem", ["snake", "upper"], lambda r, k, v: 'config["%s"] = "%s"' % (k, v)),
    ("js-const", ["camel", "upper"], lambda r, k, v: 'const %s = "%s";' % (k, v)),
    ("js-object", ["camel"], lambda r, k, v: "  %s: '%s'," % (k, v)),
    ("ts-readonly", ["camel"], lambda r, k, v: 'private readonly %s: string = "%s";' % (k, v)),
    ("go-short", ["camel"], lambda r, k, v: '\t%s := "%s"' % (k, v)),
    ("go-const", ["pascal", "camel"], lambda r, k, v: 'const %s = "%s"' % (k, v)),
    ("go-struct", ["pascal"], lambda r, k, v: '\t\t%s: "%s",' % (k, v)),
    ("java-field", ["upper"], lambda r, k, v: 'private static final String %s = "%s";' % (k, v)),
    ("java-setprop", ["dotted", "camel"], lambda r, k, v: 'props.setProperty("%s", "%s");' % (k, v)),
    ("csharp-init", ["pascal"], lambda r, k, v: '    {"%s", "%s"},' % (k, v)),
    ("csharp-var", ["camel"], lambda r, k, v: 'var %s = @"%s";' % (k, v)),
    ("ruby-hash", ["snake"], lambda r, k, v: '  %s: "%s",' % (k, v)),
    ("ruby-rocket", ["snake"], lambda r, k, v: "  :%s => '%s'," % (k, v)),
    ("ruby-env", ["upper"], lambda r, k, v: 'ENV["%s"] = "%s"' % (k, v)),
    ("php-array", ["snake"], lambda r, k, v: "    '%s' => '%s'," % (k, v)),
    ("php-define", ["upper"], lambda r, k, v: "define('%s', '%s');" % (k, v)),
    ("rust-let", ["snake"], lambda r, k, v: 'let %s = "%s";' % (k, v)),
    ("rust-const", ["upper"], lambda r, k, v: 'const %s: &str = "%s";' % (k, v)),
    ("comment-is", ["snake", "camel"], lambda r, k, v: '// the %s is "%s"' % (k, v)),
    ("comment-hash", ["snake", "upper"], lambda r, k, v: "# %s: %s" % (k, v)),
    ("comment-block", ["snake"], lambda r, k, v: "/* %s=%s */" % (k, v)),
    ("prose-use", ["flat", "snake"], lambda r, k, v: "For staging use %s %s until the rotation on Friday." % (k, v)),
    ("prose-is", ["snake", "flat"], lambda r, k, v: "The %s for the build box is %s, do not share it." % (k, v)),
    ("log-kv", ["pascal", "camel"], lambda r, k, v: "2026-03-04T10:22:%02d.114Z INFO  auth.client init endpoint=https://%s %s=%s retries=3" % (r.randint(0, 59), _host(r), k, v)),
    ("log-bracket", ["snake"], lambda r, k, v: "[INFO] loaded config {%s=%s, region=us-east-1}" % (k, v)),
    ("ci-output", ["upper"], lambda r, k, v: "#14 0.%03d Step 5/9 : ENV %s %s" % (r.randint(0, 999), k, v)),
    ("k8s-env", ["upper"], lambda r, k, v: "        - name: %s\n          value: \"%s\"" % (k, v)),
    ("http-header", ["kebab"], lambda r, k, v: "X-%s: %s" % ("-".join(w.capitalize() for w in k.split("-")), v)),
    ("terraform", ["snake"], lambda r, k, v: '  %s = "%s"' % (k, v)),
    ("helm-set", ["dotted"], lambda r, k, v: "helm upgrade app ./chart --set auth.%s=%s" % (k, v)),
    ("powershell", ["pascal"], lambda r, k, v: '$%s = "%s"' % (k, v)),
    ("url-query", ["snake", "camel"], lambda r, k, v: "GET /api/v2/items?page=2&%s=%s HTTP/1.1" % (k, v)),
    ("makefile", ["upper"], lambda r, k, v: "%s ?= %s" % (k, v)),
    ("nginx", ["snake"], lambda r, k, v: "    %s %s;" % (k, v)),
]


# ---------------------------------------------------------------- connection strings
def cs_ado(r, p):
    return "Server=tcp:%s,1433;Database=orders;User Id=svc_app;Password=%s;Encrypt=True;" % (_host(r), p)


def cs_ado_quoted(r, p):
    return 'services.AddDbContext(o => o.UseSqlServer("Data Source=%s;Initial Catalog=crm;User ID=sa;Password=%s;TrustServerCertificate=true"));' % (_host(r), p)


def cs_odbc(r, p):
    return "Driver={ODBC Driver 18 for SQL Server};Server=%s;Uid=report;Pwd=%s;" % (_host(r), p)


def cs_npgsql(r, p):
    return "Host=%s;Port=5432;Username=app;password=%s;Database=main" % (_host(r), p)


def cs_jdbc(r, p):
    return "jdbc:postgresql://%s:5432/billing?user=billing&password=%s&ssl=true" % (_host(r), p)


def cs_jdbc_mysql(r, p):
    return "spring.datasource.url=jdbc:mysql://%s:3306/app?useSSL=true&user=root&password=%s" % (_host(r), p)


def cs_redis_url(r, p):
    return "REDIS_URL=redis://default:%s@%s:6379/0" % (p, _host(r))


def cs_redis_nouser(r, p):
    return "cache: rediss://:%s@%s:6380" % (p, _host(r))


def cs_redis_se(r, p):
    return '"Redis": "%s:6380,password=%s,ssl=True,abortConnect=False"' % (_host(r), p)


def cs_mongo(r, p):
    return "MONGO_URI=mongodb+srv://admin:%s@cluster0.ab1cd.mongodb.net/prod?retryWrites=true" % p


def cs_amqp(r, p):
    return "amqp://guest:%s@%s:5672/%%2Fvhost" % (p, _host(r))


def cs_postgres_url(r, p):
    return "DATABASE_URL=postgres://app:%s@%s:5432/app" % (p, _host(r))


def cs_oracle(r, p):
    return "Data Source=ORCL;User Id=hr;Password=%s;Pooling=true" % p


def cs_mysql_dsn(r, p):
    return 'dsn := "app:%s@tcp(%s:3306)/shop?parseTime=true"' % (p, _host(r))


CONN = [cs_ado, cs_ado_quoted, cs_odbc, cs_npgsql, cs_jdbc, cs_jdbc_mysql, cs_redis_url, cs_redis_nouser,
        cs_redis_se, cs_mongo, cs_amqp, cs_postgres_url, cs_oracle, cs_mysql_dsn]
URL_SAFE_CONN = {cs_jdbc, cs_jdbc_mysql, cs_redis_url, cs_redis_nouser, cs_mongo, cs_amqp, cs_postgres_url, cs_mysql_dsn}


def v_url_password(rng):
    # URLs: no @ : / ? # & in the password (they would be percent-encoded)
    return mixed(rng, rng.randint(10, 18)) + rng.choice(["$", "!", "*", "~", "-", "_"]) + rstr(rng, ALNUM, 3)


# ---------------------------------------------------------------- vendor shapes
def t_azure_key(r):
    return mixed(r, 86, B64) + "=="


def t_aws_secret(r):
    return mixed(r, 40, B64)


def t_aws_session(r):
    return r.choice(["FwoGZXIvYXdzE", "IQoJb3JpZ2luX2Vj"]) + mixed(r, 180, B64) + "=="


def t_atlassian(r):
    return "ATCTT3x" + mixed(r, 150, URLSAFE) + "=" + rstr(r, "0123456789ABCDEF", 8)


def t_artifactory(r):
    return "AKCp" + rstr(r, ALNUM, 69)


def t_artifactory_ap(r):
    return "AP" + rng_digit(r) + mixed(r, 8) + rstr(r, ALNUM, 20)


def rng_digit(r):
    return r.choice("6ABCDEF")


def t_google(r):
    return "AIza" + mixed(r, 35, URLSAFE)


def t_npm_uuid(r):
    return v_uuid(r)


def t_github(r):
    return "ghp_" + mixed(r, 36)


def t_slack(r):
    return "xoxb-%d-%d-%s" % (r.randint(10**10, 10**11), r.randint(10**11, 10**12), mixed(r, 24))


def t_stripe(r):
    return "sk_live_" + mixed(r, 24)


VENDOR = [
    ("azure_key", t_azure_key, ["AZURE_STORAGE_KEY={v}", "az storage blob upload --account-key {v} -f x.tar",
                                "DefaultEndpointsProtocol=https;AccountName=acmelogs;AccountKey={v};EndpointSuffix=core.windows.net",
                                '  "storageAccountKey": "{v}",', "primaryKey: {v}", "key1 {v}"]),
    ("aws_key", t_aws_secret, ["aws_secret_access_key = {v}", "AWS_SECRET_ACCESS_KEY={v}",
                               '"SecretAccessKey": "{v}",', "secretKey: {v}", "aws configure set aws_secret_access_key {v}"]),
    ("aws_key", t_aws_session, ["aws_session_token = {v}", "AWS_SESSION_TOKEN={v}", '"SessionToken": "{v}"',
                                "export AWS_SECURITY_TOKEN={v}"]),
    ("api_token", t_atlassian, ["JIRA_API_TOKEN={v}", "confluence.token: {v}", "curl -u bot@example.org:{v} https://acme.atlassian.net/rest/api/3/myself",
                                'atlassian_token = "{v}"']),
    ("api_token", t_artifactory, ["X-JFrog-Art-Api: {v}", "ARTIFACTORY_API_KEY={v}", "artifactory_password = {v}",
                                  "curl -H 'X-JFrog-Art-Api:{v}' https://repo.example.org/artifactory/api/repositories"]),
    ("npm_token", t_npm_uuid, ["NPM_TOKEN={v}", "//registry.npmjs.org/:_authToken={v}", "npm_token: {v}",
                               '"npmAuthToken": "{v}"', "npm config set //npm.acme.dev/:_authToken {v}"]),
    ("google_api_key", t_google, ["GOOGLE_API_KEY={v}", "maps_api_key: {v}", '<string name="google_maps_key">{v}</string>',
                                  "https://maps.googleapis.com/maps/api/geocode/json?address=x&key={v}", "firebase apiKey: \"{v}\""]),
    ("github_token", t_github, ["GITHUB_TOKEN={v}", "git clone https://x-access-token:{v}@github.com/acme/app.git", "gh auth login --with-token <<< {v}"]),
    ("slack_token", t_slack, ["SLACK_BOT_TOKEN={v}", 'slack_token: "{v}"', "Authorization: Bearer {v}"]),
    ("stripe_key", t_stripe, ["STRIPE_SECRET_KEY={v}", "stripe.api_key = '{v}'", "curl https://api.stripe.com/v1/charges -u {v}:"]),
]


def jwt_case(r):
    def seg(n):
        return mixed(r, n, URLSAFE)
    token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJ" + seg(40) + "." + seg(43)
    secret = v_password_symbols(r) if r.random() < 0.5 else mixed(r, 32)
    forms = [
        ("JWT_SECRET={s}\nTEST_JWT={t}", [secret, token]),
        ('jwt.sign(payload, "{s}") // -> {t}', [secret, token]),
        ("signing secret: {s}  token: {t}", [secret, token]),
        ('const token = jwt.encode(claims, key="{s}")  # {t}', [secret, token]),
    ]
    f, secrets = r.choice(forms)
    return f.format(s=secret, t=token), secrets, ["generic_secret", "jwt"]


# ---------------------------------------------------------------- cards
def luhn_complete(prefix, length, r):
    digits = prefix + "".join(r.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


ISSUERS = [("4", [13, 16, 19]), ("51", [16]), ("55", [16]), ("2221", [16]), ("34", [15]), ("37", [15]),
           ("6011", [16, 19]), ("65", [16]), ("3528", [16, 19]), ("2131", [15]), ("1800", [15]),
           ("36", [14]), ("300", [14]), ("5018", [12, 13, 15, 19]), ("6759", [12, 16, 18]), ("6304", [16, 19]),
           ("62", [16, 17, 18, 19]), ("50", [12, 19])]


def group(num, sep, r):
    n = len(num)
    if n == 15 and num[0] == "3":
        parts = [num[:4], num[4:10], num[10:]]
    elif n == 14:
        parts = [num[:4], num[4:10], num[10:]]
    else:
        parts = [num[i:i + 4] for i in range(0, n, 4)]
    return sep.join(parts)


CARD_TEMPLATES = [
    "Charging card {c} for order #{o}",
    '{{"card_number": "{c}", "exp": "09/28"}}',
    "pan={c} amount=19.99 currency=EUR",
    "customer paid with {c} on 2026-01-12",
    "<CardNumber>{c}</CardNumber>",
    "card: {c}",
    "INSERT INTO payments VALUES (7, '{c}', '2027-03');",
    "Your card ending in {last} was declined; full number {c}.",
    "cc_number = {c}",
    "2026-03-04 12:00:01 WARN payment retry card={c} attempt=2",
]


# ---------------------------------------------------------------- PII
FIRST = ["alice", "bruno", "chen", "dana", "eve", "farah", "gus", "hana", "ivan", "jo"]


def pii_case(r, which):
    if which == "email":
        e = "%s.%s%d@%s" % (r.choice(FIRST), r.choice(WORDS), r.randint(1, 99), r.choice(["gmail.com", "mail.acme.io", "corp.globex.net"]))
        forms = ["Contact {e} for access.", "From: Dana <{e}>", "user {e} logged in from web",
                 '"email": "{e}",', "git commit --author='Bo <{e}>'", "notify: [{e}]"]
        return r.choice(forms).format(e=e), [e], "email"
    if which == "ssn":
        s = "%03d-%02d-%04d" % (r.choice([r.randint(1, 665), r.randint(667, 899)]), r.randint(1, 99), r.randint(1, 9999))
        forms = ["SSN: {s}", "Patient {n}, social security number {s}, DOB 1984-02-11", '"ssn": "{s}"', "employee ssn={s} dept=ops"]
        return r.choice(forms).format(s=s, n=r.choice(FIRST).capitalize()), [s], "ssn"
    ip = "%d.%d.%d.%d" % (r.choice([34, 52, 81, 145, 185, 203]), r.randint(0, 255), r.randint(0, 255), r.randint(1, 254))
    forms = ["Connection from {ip} port 52144", "client_ip={ip} status=200", "ssh deploy@{ip}", "Accepted publickey for git from {ip}"]
    return r.choice(forms).format(ip=ip), [ip], "ipv4"


# ---------------------------------------------------------------- negatives
def neg_cases(r):
    sha = rstr(r, HEX, 40)
    sha256 = rstr(r, HEX, 64)
    uuid = v_uuid(r)
    epoch = str(r.randint(1_600_000_000_000, 1_799_999_999_999))
    b64 = mixed(r, 24, B64) + "=="
    return [
        ("config_number", "password_length = %d" % r.randint(8, 64)),
        ("config_number", "token_count: %d" % r.randint(100, 9000)),
        ("config_number", "max_tokens=%d" % r.choice([256, 512, 1024, 4096])),
        ("config_number", "  secret_rotation_days: %d" % r.randint(7, 90)),
        ("config_number", "key_size = %d" % r.choice([2048, 3072, 4096])),
        ("variable_reference", "secret: ${{ secrets.%s }}" % r.choice(["DEPLOY_KEY", "NPM_TOKEN", "DB_PASSWORD"])),
        ("variable_reference", "password: ${DB_PASSWORD}"),
        ("variable_reference", 'token = os.environ["API_TOKEN"]'),
        ("variable_reference", "api_key: {{ .Values.apiKey }}"),
        ("variable_reference", "PASSWORD=$(cat /run/secrets/db_password)"),
        ("variable_reference", 'const apiKey = process.env.API_KEY;'),
        ("variable_reference", "--password \"$PGPASSWORD\""),
        ("file_path", 'key = "config.yaml"'),
        ("file_path", "private_key_path: /etc/ssl/private/server.key"),
        ("file_path", "secret_file = ./secrets/dev.env"),
        ("file_path", "  --token-file /var/run/secrets/kubernetes.io/serviceaccount/token"),
        ("file_path", "ssh -i ~/.ssh/id_ed25519 deploy@bastion"),
        ("git_sha", "commit %s" % sha),
        ("git_sha", "HEAD is now at %s fix flaky test" % sha[:7]),
        ("git_sha", "Merge: %s %s" % (sha[:12], rstr(r, HEX, 12))),
        ("digest", "sha256:%s" % sha256),
        ("digest", "#9 resolve docker.io/library/node:20-alpine@sha256:%s done" % sha256),
        ("digest", "%s  dist/app.tar.gz" % sha256),
        ("digest", "Downloaded https://files.pythonhosted.org/packages/x/requests-2.31.0.tar.gz#sha256=%s" % sha256),
        ("digest", "integrity sha512-%s==" % mixed(r, 86, B64)),
        ("uuid", "request_id=%s status=200 duration_ms=12" % uuid),
        ("uuid", "Created pod sandbox %s" % uuid),
        ("uuid", '"traceId": "%s",' % uuid),
        ("uuid", "ProjectGuid = \"{%s}\"" % uuid.upper()),
        ("base64_data", 'data:image/png;base64,%s' % mixed(r, 60, B64)),
        ("base64_data", "Sec-WebSocket-Accept: %s" % (mixed(r, 27, B64) + "=")),
        ("base64_data", "Content-MD5: %s" % b64),
        ("version", "   Compiling serde v1.0.%d" % r.randint(100, 220)),
        ("version", "version: %d.%d.%d" % (r.randint(0, 9), r.randint(0, 30), r.randint(0, 99))),
        ("version", "node_modules/typescript@5.%d.%d" % (r.randint(0, 6), r.randint(0, 9))),
        ("version", "AssemblyVersion(\"4.%d.0.0\")" % r.randint(0, 9)),
        ("timestamp", "2026-03-04T10:%02d:%02d.%03dZ" % (r.randint(0, 59), r.randint(0, 59), r.randint(0, 999))),
        ("timestamp", "elapsed_ms=%s" % epoch),
        ("timestamp", '"created_at": %s,' % epoch),
        ("timestamp", "ts=%s level=info msg=\"flushed\"" % epoch),
        ("identifier", "fn verify_token(token: &str) -> Result<Claims, AuthError> {"),
        ("identifier", "func (s *Server) rotateSecretKey(ctx context.Context) error {"),
        ("identifier", "public String getPasswordHash() { return passwordHash; }"),
        ("identifier", "import { refreshAccessToken } from './auth/refreshAccessToken';"),
        ("identifier", "    let api_key_header = HeaderName::from_static(\"x-api-key\");"),
        ("identifier", "use crate::secrets::SecretStore;"),
        ("identifier", "private final TokenValidator tokenValidator;"),
        ("camel_case", "passwordResetRequestedAt"),
        ("camel_case", "const keyboardShortcutHandler = useKeyboardShortcuts();"),
        ("camel_case", "class PasswordEncoderConfiguration extends WebSecurityConfigurerAdapter {"),
        ("hex_colour", "color: #%s;" % rstr(r, HEX, 6)),
        ("hex_colour", "  --primary-key-color: #%s;" % rstr(r, HEX, 6)),
        ("test_name", "test auth::tests::rejects_expired_token ... ok"),
        ("test_name", "test secret_store::tests::password_roundtrip_%d ... ok" % r.randint(1, 9)),
        ("test_name", "PASSED tests/test_tokens.py::test_token_refresh_with_invalid_key"),
        ("test_name", "--- PASS: TestAPIKeyValidation/empty_key (0.00s)"),
        ("prose", "Enter your password to continue."),
        ("prose", "The token expired; please log in again."),
        ("prose", "Rotate the API key every 90 days, see the security policy."),
        ("prose", "Password must contain at least one digit and one symbol."),
        ("prose", "If you forgot your secret key, ask an administrator to reset it."),
        ("prose", "error: invalid token at line %d column %d" % (r.randint(1, 99), r.randint(1, 80))),
        ("prose", "warning: the key `default` is deprecated, use `profile` instead"),
        ("placeholder", "api_key: <your-api-key>"),
        ("placeholder", "password = \"changeme\""),
        ("placeholder", "TOKEN=YOUR_TOKEN_HERE"),
        ("placeholder", "secret: \"********\""),
        ("placeholder", "client_secret=xxxxxxxxxxxxxxxx"),
        ("placeholder", "--password [PASSWORD]"),
        ("placeholder", "DB_PASSWORD=<redacted>"),
        ("placeholder", "aws_secret_access_key = REPLACE_ME"),
        ("placeholder", "\"token\": null,"),
        ("placeholder", "password: \"\""),
        ("enum_value", "token_type: bearer"),
        ("enum_value", "auth: none"),
        ("enum_value", "password_policy: strict"),
        ("enum_value", "key_algorithm = \"RSA\""),
        ("enum_value", "session: true"),
        ("enum_value", "auth_method = oauth2"),
        ("enum_value", "SECRET_BACKEND=vault"),
        ("enum_value", "--auth-type=kerberos"),
        ("order_number", "order #%d shipped" % r.randint(10**11, 10**15)),
        ("order_number", "invoice_id=%s" % rstr(r, string.digits, 16)),
        ("order_number", "tracking number %s" % rstr(r, string.digits, 20)),
        ("order_number", "phone: +1 415 555 %04d" % r.randint(0, 9999)),
        ("build_log", "[%d/%d] Linking CXX executable bin/keytool" % (r.randint(1, 99), r.randint(100, 300))),
        ("build_log", "npm WARN deprecated uuid@3.4.0: Please upgrade to version 7 or higher."),
        ("build_log", "Step %d/12 : RUN pip install --no-cache-dir -r requirements.txt" % r.randint(1, 12)),
        ("build_log", "   Finished release [optimized] target(s) in %d.%02ds" % (r.randint(1, 300), r.randint(0, 99))),
        ("build_log", "ok  	github.com/acme/auth/token	0.%03ds" % r.randint(1, 999)),
        ("url", "https://docs.example.com/guides/api-keys#rotating"),
        ("url", "GET /v1/tokens?page=%d&per_page=50 200" % r.randint(1, 30)),
        ("url", "git clone git@github.com:acme/secrets-operator.git"),
        ("ip_local", "listening on 127.0.0.1:%d" % r.randint(1024, 65535)),
        ("ip_local", "bind 0.0.0.0:8080"),
        ("k8s", "kind: Secret"),
        ("k8s", "  secretName: tls-%s" % r.choice(WORDS)),
        ("k8s", "        secretKeyRef:\n          name: db-credentials\n          key: password"),
        ("k8s", "  imagePullSecrets:\n    - name: regcred"),
        ("sql", "SELECT id, password_hash FROM users WHERE email_verified = true;"),
        ("sql", "ALTER TABLE api_keys ADD COLUMN last_used_at TIMESTAMP;"),
        ("cli_help", "  -p, --password <PASSWORD>   password to use when connecting"),
        ("cli_help", "      --token-ttl <SECONDS>   lifetime of issued tokens [default: 3600]"),
    ]


# ---------------------------------------------------------------- tune-only widening
# A third group of templates, key names, value generators and negatives that
# goes to tune only (TUNE_ONLY_* below). It is generated after both splits
# with its own seed, so holdout.jsonl does not change when this group grows.
# It covers real formats the split lists above do not: shell traces, docker
# -e, CI YAML, Helm values, HCL, appsettings.json, PHP/Ruby/Go/Rust/Python
# call syntax, SQL, curl/httpie/wget flags, credentialed URLs of many
# schemes, npm UUID tokens, prose, nested JSON; key names in every style with
# prefixes; values with punctuation; and the same shapes as negatives.
PUNCT = "$@:!#%&*()/+="


def v_punct(rng):
    n = rng.randint(10, 22)
    while True:
        v = rstr(rng, ALNUM + PUNCT, n)
        if sum(c in PUNCT for c in v) >= 3 and any(c.isdigit() for c in v) and any(c.isalpha() for c in v):
            return v


def v_short_password(rng):
    w = rng.choice(WORDS)
    return w[:rng.randint(3, 5)].capitalize() + rng.choice("&*(+=/") + str(rng.randint(1, 99)) + rng.choice(["", "!", "x"])


def v_lower_digits(rng):
    while True:
        v = rstr(rng, string.ascii_lowercase + string.digits, rng.randint(16, 32))
        if sum(c.isdigit() for c in v) >= 3 and sum(c.isalpha() for c in v) >= 3:
            return v


def v_upper_digits(rng):
    while True:
        v = rstr(rng, string.ascii_uppercase + string.digits, rng.randint(16, 32))
        if sum(c.isdigit() for c in v) >= 3 and sum(c.isalpha() for c in v) >= 3:
            return v


def v_b64_long(rng):
    return mixed(rng, rng.choice([43, 64, 88]), B64) + rng.choice(["", "=", "=="])


def v_django(rng):
    return "django-insecure-" + rstr(rng, string.ascii_lowercase + string.digits + "!@#$%^&*(-_=+)", 40)


def v_words_dash(rng):
    w = rng.sample(WORDS, 3)
    return "-".join(w) + "-" + str(rng.randint(10, 99))


TUNE_ONLY_VALUES = [v_punct, v_short_password, v_lower_digits, v_upper_digits, v_b64_long, v_django, v_words_dash]

TUNE_ONLY_KEY_WORDS = [
    ["database", "password"], ["pg", "password"], ["ldap", "bind", "password"], ["keystore", "password"],
    ["truststore", "password"], ["login", "password"], ["mail", "password"], ["ftp", "password"],
    ["sa", "password"], ["db", "pass"], ["admin", "pass"], ["app", "password"],
    ["api", "access", "key"], ["secret", "access", "key"], ["client", "secret", "key"], ["private", "token"],
    ["github", "token"], ["gitlab", "token"], ["auth", "secret"], ["token", "secret"], ["encryption", "secret"],
    ["signing", "secret"], ["api", "secret", "token"], ["access", "secret"], ["secret", "token"],
    ["become", "pass"], ["bind", "pw"], ["mongo", "initdb", "root", "password"], ["otp", "secret"],
    ["totp", "secret"], ["id", "token"], ["upload", "token"], ["npm", "auth", "token"], ["twine", "password"],
    ["sonar", "token"], ["smtp", "pass"], ["wifi", "psk"], ["stripe", "secret", "key"], ["aes", "key"],
    ["cipher", "key"], ["secret", "key", "base"], ["cookie", "signing", "key"], ["oidc", "client", "secret"],
]

KEY_PREFIXES = ["", "", "", "db", "app", "spring_datasource", "prod", "my", "myapp", "service"]


def prefixed_key(rng, words, how):
    """A key in style `how`, sometimes behind a prefix (`db_`, `app.`, `SPRING_DATASOURCE_`, ...)."""
    p = rng.choice(KEY_PREFIXES)
    return style((p.split("_") if p else []) + list(words), how)


def _hdr(k):
    return "-".join(w.capitalize() for w in k.split("-"))


TUNE_ONLY_KEYED = [
    ("export-bare", ["upper"], lambda r, k, v: "export %s=%s" % (k, v if not any(c in v for c in "$&*()!#") else "'" + v + "'")),
    ("export-single", ["upper"], lambda r, k, v: "export %s='%s'" % (k, v)),
    ("set-x-trace", ["upper"], lambda r, k, v: "+ export %s='%s'" % (k, v)),
    ("set-x-assign", ["upper"], lambda r, k, v: "++ %s='%s'" % (k, v)),
    ("docker-run-e", ["upper"], lambda r, k, v: "docker run -d -e %s='%s' -p 8080:80 acme/api:1.4" % (k, v)),
    ("docker-run-env", ["upper"], lambda r, k, v: 'docker run --rm --env %s="%s" acme/worker' % (k, v)),
    ("compose-env-list", ["upper"], lambda r, k, v: "      - %s=%s" % (k, v)),
    ("gha-env", ["upper"], lambda r, k, v: "        %s: '%s'" % (k, v)),
    ("gha-with", ["kebab", "snake"], lambda r, k, v: "        with:\n          %s: %s" % (k, v)),
    ("gitlab-variables", ["upper"], lambda r, k, v: "variables:\n  %s: \"%s\"" % (k, v)),
    ("helm-values", ["camel"], lambda r, k, v: "auth:\n  enabled: true\n  %s: \"%s\"" % (k, v)),
    ("hcl-attr", ["snake"], lambda r, k, v: '  %s = "%s"' % (k, v)),
    ("hcl-default", ["snake"], lambda r, k, v: 'variable "%s" { default = "%s" }' % (k, v)),
    ("tfvars", ["snake"], lambda r, k, v: '%s="%s"' % (k, v)),
    ("java-properties-dotted", ["dotted"], lambda r, k, v: "%s=%s" % (k, v)),
    ("java-properties-spaced", ["dotted", "camel"], lambda r, k, v: "%s = %s" % (k, v)),
    ("appsettings", ["pascal"], lambda r, k, v: '  "Authentication": { "%s": "%s" },' % (k, v)),
    ("appsettings-colon-env", ["pascal"], lambda r, k, v: "Smtp__%s=%s" % (k, v)),
    ("php-array-double", ["snake"], lambda r, k, v: '    "%s" => "%s",' % (k, v)),
    ("php-config", ["snake"], lambda r, k, v: "$config['%s'] = '%s';" % (k, v)),
    ("ruby-symbol-hash", ["snake"], lambda r, k, v: "  %s: '%s'," % (k, v)),
    ("ruby-config", ["snake"], lambda r, k, v: "  config.%s = '%s'" % (k, v)),
    ("go-struct-literal", ["pascal"], lambda r, k, v: 'cfg := Config{Host: "db", %s: "%s"}' % (k, v)),
    ("go-setenv", ["upper"], lambda r, k, v: 'os.Setenv("%s", "%s")' % (k, v)),
    ("rust-let-semi", ["snake"], lambda r, k, v: '    let %s = "%s";' % (k, v)),
    ("rust-builder", ["snake"], lambda r, k, v: '    .%s("%s")' % (k, v)),
    ("rust-struct", ["snake"], lambda r, k, v: '    %s: "%s".to_string(),' % (k, v)),
    ("python-kwargs", ["snake"], lambda r, k, v: 'conn = psycopg2.connect(host="db", user="app", %s="%s")' % (k, v)),
    ("python-assign", ["snake"], lambda r, k, v: "%s = '%s'" % (k, v)),
    ("js-object-quoted", ["camel"], lambda r, k, v: '  "%s": "%s",' % (k, v)),
    ("js-assign-prop", ["camel"], lambda r, k, v: 'process.env.%s = "%s";' % (k.upper() if k.islower() else k, v)),
    ("kotlin-val", ["camel"], lambda r, k, v: 'val %s = "%s"' % (k, v)),
    ("swift-let", ["camel"], lambda r, k, v: 'let %s = "%s"' % (k, v)),
    ("json-nested", ["camel", "snake"], lambda r, k, v: '{"db": {"host": "db1", "%s": "%s"}}' % (k, v)),
    ("json-compact", ["camel", "snake"], lambda r, k, v: '{"auth":{"type":"basic","%s":"%s"}}' % (k, v)),
    ("yaml-nested", ["snake", "camel"], lambda r, k, v: "spring:\n  datasource:\n    %s: %s" % (k, v)),
    ("ini-colon", ["snake"], lambda r, k, v: "%s: %s" % (k, v)),
    ("curl-header", ["kebab"], lambda r, k, v: 'curl -s --header "X-%s: %s" https://api.example.com/v1/me' % (_hdr(k), v)),
    ("httpie-header", ["kebab"], lambda r, k, v: "http POST api.example.com/items X-%s:%s name=x" % (_hdr(k), v)),
    ("cli-flag-quoted", ["kebab"], lambda r, k, v: "./manage.py createsuperuser --%s='%s' --noinput" % (k, v)),
    ("comment-slash", ["snake", "camel"], lambda r, k, v: "// %s: %s" % (k, v)),
    ("comment-todo", ["snake", "upper"], lambda r, k, v: "# TODO remove before release: %s=%s" % (k, v)),
    ("log-json", ["camel", "snake"], lambda r, k, v: '{"level":"debug","msg":"config loaded","%s":"%s"}' % (k, v)),
    ("log-equals-quoted", ["snake"], lambda r, k, v: 'level=debug msg="connecting" %s="%s" attempt=1' % (k, v)),
    ("url-query-amp", ["snake", "camel"], lambda r, k, v: "https://api.example.com/v1/export?format=csv&%s=%s&limit=10" % (k, v)),
    ("k8s-env-list", ["upper"], lambda r, k, v: "env:\n  - name: %s\n    value: '%s'" % (k, v)),
    ("compose-environment", ["upper"], lambda r, k, v: "    environment:\n      %s: %s" % (k, v)),
    ("systemd-env", ["upper"], lambda r, k, v: 'Environment="%s=%s"' % (k, v)),
    ("windows-set", ["upper"], lambda r, k, v: "set %s=%s" % (k, v)),
    ("windows-setx", ["upper"], lambda r, k, v: 'setx %s "%s"' % (k, v)),
    ("powershell-env", ["upper"], lambda r, k, v: '$env:%s = "%s"' % (k, v)),
    ("dotnet-setenv", ["upper"], lambda r, k, v: '[Environment]::SetEnvironmentVariable("%s", "%s", "User")' % (k, v)),
    ("fish-set", ["upper"], lambda r, k, v: "set -gx %s %s" % (k, v)),
    ("kubectl-literal", ["snake", "kebab"], lambda r, k, v: "kubectl create secret generic app --from-literal=%s='%s'" % (k, v)),
    ("heroku-config", ["upper"], lambda r, k, v: "heroku config:set %s='%s' -a acme-api" % (k, v)),
    ("gh-secret", ["upper"], lambda r, k, v: 'gh secret set %s --body "%s"' % (k, v)),
    ("vault-put", ["snake"], lambda r, k, v: "vault kv put secret/app %s='%s'" % (k, v)),
    ("ssm-put", ["snake"], lambda r, k, v: 'aws ssm put-parameter --name /app/%s --value "%s" --type SecureString' % (k, v)),
    ("makefile-colon", ["upper"], lambda r, k, v: "%s := %s" % (k, v)),
    ("logfmt", ["snake"], lambda r, k, v: "ts=2026-03-04T10:22:01Z level=info %s=%s user=app" % (k, v)),
    ("java-sysprop", ["dotted"], lambda r, k, v: 'System.setProperty("%s", "%s");' % (k, v)),
    ("toml-inline", ["snake"], lambda r, k, v: 'db = { user = "app", %s = "%s" }' % (k, v)),
    ("yaml-flow", ["snake", "camel"], lambda r, k, v: "auth: {user: app, %s: '%s'}" % (k, v)),
    ("js-nested-auth", ["camel"], lambda r, k, v: "  auth: { username: 'svc', %s: '%s' }," % (k, v)),
    ("xml-attrs", ["camel", "snake"], lambda r, k, v: '<datasource user="app" %s="%s" pool="10"/>' % (k, v)),
    ("xml-entry", ["dotted"], lambda r, k, v: '<entry key="%s">%s</entry>' % (k, v)),
    ("markdown-table", ["snake", "upper"], lambda r, k, v: "| %s | `%s` | prod |" % (k, v)),
    ("sql-comment", ["snake"], lambda r, k, v: "-- %s: %s" % (k, v)),
    ("ini-comment", ["snake"], lambda r, k, v: "; %s = %s" % (k, v)),
    ("form-body", ["snake"], lambda r, k, v: "username=app&%s=%s&grant_type=client_credentials" % (k, v)),
    ("json-escaped", ["camel", "snake"], lambda r, k, v: '"{\\"%s\\":\\"%s\\"}"' % (k, v)),
    ("prose-for-prod", ["snake", "flat"], lambda r, k, v: "the %s for prod is now %s" % (k, v)),
    ("prose-arrow", ["snake", "upper"], lambda r, k, v: "%s -> %s" % (k, v)),
    ("ansible-var", ["snake"], lambda r, k, v: "ansible_%s: '%s'" % (k, v)),
]

TUNE_ONLY_FIXED = [
    # SQL
    ("password", "CREATE USER app IDENTIFIED BY '{p}';"),
    ("password", "ALTER USER 'root'@'localhost' IDENTIFIED BY '{p}';"),
    ("password", "ALTER ROLE reporting WITH LOGIN PASSWORD '{p}';"),
    ("password", "CREATE USER analyst WITH PASSWORD '{p}' VALID UNTIL '2027-01-01';"),
    ("password", "SET PASSWORD FOR 'app'@'%' = '{p}';"),
    ("password", "GRANT ALL ON app.* TO 'app'@'%' IDENTIFIED BY '{p}';"),
    # curl / httpie / wget
    ("password", "curl -u admin:{p} https://jenkins.example.com/api/json"),
    ("password", "curl --user deploy:{p} -X POST https://nexus.example.com/service/rest/v1/components"),
    ("password", "wget --user=ci --password={p} https://files.example.com/build.zip"),
    ("password", "wget --http-user=ci --http-password='{p}' https://files.example.com/a.tgz"),
    ("password", "http -a admin:{p} GET https://api.example.com/status"),
    ("password", "lftp -u backup,{p} sftp://backup.example.com"),
    ("password", "mysql -h db.example.com -u root -p'{p}' app"),
    ("password", "PGPASSWORD='{p}' psql -h db.example.com -U app"),
    ("password", "sshpass -p '{p}' ssh deploy@bastion"),
    ("password", "docker login -u ci -p '{p}' registry.example.com"),
    ("password", "echo '{p}' | sudo -S systemctl restart app"),
    ("password", "net use Z: \\\\files\\share /user:ACME\\svc {p}"),
    # prose
    ("password", "the password is {p}"),
    ("password", "FYI the new admin password is {p} (rotate after the demo)"),
    ("password", "Password was reset to {p} for the on-call account."),
    ("password", "login: admin / password: {p}"),
    ("password", "creds for staging -> admin:{p}"),
    ("generic_secret", "use token {p} for the staging API"),
    ("generic_secret", "Here is the secret: {p} - keep it out of git."),
    ("generic_secret", "My API key = {p}, can someone check why it fails?"),
    ("generic_secret", "Authorization token: {p}"),
    # code calls with a fixed credential position
    ("password", "var cred = new NetworkCredential(\"svc\", \"{p}\");"),
    ("password", "r = requests.get(url, auth=(\"svc\", \"{p}\"))"),
    ("password", "auth = HTTPBasicAuth('svc', '{p}')"),
    ("password", "req.SetBasicAuth(\"svc\", \"{p}\")"),
    ("password", "machine api.example.com login ci password {p}"),
    ("password", "credentials for staging: admin / {p}"),
    ("password", "login with admin and password {p}"),
]

CRED_SCHEMES = ["ftp", "sftp", "smtp", "smtps", "ldap", "ldaps", "https", "http", "mysql", "postgresql", "redis",
                "mongodb", "amqps", "git+https", "svn+ssh", "kafka", "nats", "mqtt", "ssh", "imap", "sqlserver",
                "clickhouse", "cockroachdb", "neo4j", "couchdb"]

TUNE_ONLY_NPM_FORMS = [
    "export NPM_TOKEN={v}", "npm_token = \"{v}\"", "NPM_TOKEN: {v}", "//registry.npmjs.org/:_authToken=\"{v}\"",
    "echo \"//registry.npmjs.org/:_authToken={v}\" > ~/.npmrc", "  npmAuthToken: {v}", "\"npm_token\": \"{v}\",",
    "//npm.pkg.github.com/:_authToken={v}", "docker build --build-arg NPM_TOKEN={v} .", "env NPM_TOKEN='{v}' npm publish",
    "_authToken = {v}", "npmToken: '{v}'",
]


def tune_only_negatives(r):
    n = r.randint(1, 9)
    return [
        ("test_name", "test_password_reset_flow"),
        ("test_name", "def test_api_key_rotation_%d(self):" % n),
        ("test_name", "    it('rejects an expired token', async () => {"),
        ("test_name", "=== RUN   TestSecretManager_Get/missing_secret"),
        ("test_name", "test tokens::tests::refresh_token_is_single_use ... ok"),
        ("test_name", "[ RUN      ] AuthTest.PasswordHashMatches"),
        ("test_name", "  ✓ validates the client_secret length (3 ms)"),
        ("test_name", "FAILED tests/test_auth.py::test_login_with_wrong_password - AssertionError"),
        ("test_name", "test result: ok. %d passed; 0 failed; secret_store tests" % r.randint(2, 90)),
        ("test_name", "PASS src/auth/__tests__/token.test.ts"),
        ("test_name", "test session_secret_from_env ... ignored"),
        ("test_name", "    @Test void passwordEncoderRejectsEmptyPassword() {"),
        ("identifier", "tokenizer = AutoTokenizer.from_pretrained(\"bert-base-uncased\")"),
        ("identifier", "let tokenizer = Tokenizer::from_file(\"tokenizer.json\")?;"),
        ("identifier", "keyboard layout: us"),
        ("identifier", "password = getpass.getpass(\"Password: \")"),
        ("identifier", "let token = env::var(\"API_TOKEN\")?;"),
        ("identifier", "token := r.Header.Get(\"Authorization\")"),
        ("identifier", "const { password, ...rest } = user;"),
        ("identifier", "secret = secrets_client.get_secret_value(SecretId=secret_name)"),
        ("identifier", "if (password !== confirmPassword) return;"),
        ("identifier", "self.api_key = api_key"),
        ("identifier", "password: hashedPassword,"),
        ("identifier", "token: accessToken,"),
        ("identifier", "Password: cfg.Password,"),
        ("identifier", "api_key = settings.API_KEY"),
        ("config_value", "password_min_length: %d" % r.randint(8, 16)),
        ("config_value", "token_ttl: %d" % r.choice([300, 900, 3600, 86400])),
        ("config_value", "secret_name: db-creds"),
        ("config_value", "password_reset_expiry = 24h"),
        ("config_value", "auth_token_header: Authorization"),
        ("config_value", "api_key_env: OPENAI_API_KEY"),
        ("config_value", "token_endpoint: /oauth2/token"),
        ("config_value", "key_id: %d" % n),
        ("config_value", "grant_type=password"),
        ("config_value", "auth_type: password"),
        ("config_value", "password_hash_algorithm = \"argon2id\""),
        ("config_value", "secret_ref: vault://kv/prod/db"),
        ("config_value", "sort_key: created_at"),
        ("config_value", "primary_key: id"),
        ("config_value", "partition_key = \"tenant_id\""),
        ("config_value", "ssh_key_name = \"deploy-2024\""),
        ("config_value", "tokens_used=%d" % r.randint(100, 99999)),
        ("config_value", "session_timeout: 30m"),
        ("config_value", "token_expiry_seconds = %d" % r.randint(60, 99999)),
        ("config_value", "PASSWORD_MIN_LENGTH=%d" % r.randint(8, 20)),
        ("config_value", "secret_type: kubernetes.io/tls"),
        ("config_value", "\"passwordPolicy\": \"strong\","),
        ("config_value", "token_format = \"jwt\""),
        ("placeholder", "password: <redacted>"),
        ("placeholder", "api_key: ${API_KEY}"),
        ("placeholder", "token: ***"),
        ("placeholder", "DB_PASSWORD=changeme"),
        ("placeholder", "password = \"<your password>\""),
        ("placeholder", "secret: \"{{ .Values.secret }}\""),
        ("placeholder", "password: !vault |"),
        ("placeholder", "MasterUserPassword: !Ref DbPassword"),
        ("placeholder", "password = var.db_password"),
        ("placeholder", "password = random_password.db.result"),
        ("placeholder", "token: $(System.AccessToken)"),
        ("placeholder", "\"password\": \"<%= @db_password %>\","),
        ("placeholder", "password: \"{{ db_password }}\""),
        ("placeholder", "export GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}"),
        ("placeholder", "docker run -e DB_PASSWORD=$DB_PASSWORD acme/api"),
        ("placeholder", "curl -H \"X-Api-Key: $API_KEY\" https://api.example.com"),
        ("placeholder", "api_key = \"xxxxxxxxxxxxxxxxxxxx\""),
        ("placeholder", "password: REDACTED"),
        ("placeholder", "token=[MASKED]"),
        ("placeholder", "SECRET_KEY=your-secret-key"),
        ("placeholder", "password = os.getenv(\"DB_PASSWORD\")"),
        ("prose", "Reset your password from the account page."),
        ("prose", "The secret is stored in Vault under kv/prod."),
        ("prose", "use token authentication for the API"),
        ("prose", "The password is incorrect."),
        ("prose", "the token is invalid or expired"),
        ("prose", "Your API key has been rotated."),
        ("prose", "Please provide a secret for the webhook."),
        ("cli_help", "      --password-stdin     Take the password from stdin"),
        ("cli_help", "  -u, --user USER[:PASSWORD]  server user and password"),
        ("cli_help", "  --api-key KEY          API key (env: ACME_API_KEY)"),
        ("build_log", "echo \"$TOKEN\" | docker login ghcr.io -u ci --password-stdin"),
        ("build_log", "Login Succeeded"),
        ("build_log", "   Compiling secrecy v0.8.0"),
        ("build_log", "   Compiling tokenizers v0.%d.0" % r.randint(10, 20)),
        ("build_log", "Downloading keyring-24.3.1-py3-none-any.whl (38 kB)"),
        ("sql", "CREATE TABLE users (id serial, password_hash text NOT NULL);"),
        ("sql", "UPDATE users SET password = crypt($1, gen_salt('bf')) WHERE id = $2;"),
        ("sql", "SELECT token, expires_at FROM sessions WHERE user_id = ?;"),
        ("url", "https://example.com/reset-password?step=2"),
        ("url", "GET /api/v1/tokens/refresh 200 %dms" % r.randint(1, 999)),
        ("url", "https://github.com/acme/api-key-rotator/pull/%d" % r.randint(1, 999)),
        ("k8s", "    secretName: %s-tls" % r.choice(WORDS)),
        ("k8s", "  serviceAccountToken: true"),
        ("k8s", "      automountServiceAccountToken: false"),
        ("config_value", 'Environment="LOG_LEVEL=debug"'),
        ("config_value", "keyspace: analytics"),
        ("config_value", "passthrough: true"),
        ("config_value", "password_confirmation: \"\""),
        ("config_value", "auth_provider: github"),
        ("config_value", "session_affinity: ClientIP"),
        ("config_value", "pass_through = false"),
        ("config_value", "password_changed_at: 2026-01-%02dT00:00:00Z" % n),
        ("config_value", "TokenType: \"Bearer\""),
        ("config_value", "keychain: login"),
        ("config_value", "token_bucket_size=%d" % r.randint(10, 999)),
        ("config_value", "set -gx EDITOR vim"),
        ("config_value", "setx JAVA_HOME \"C:\\Program Files\\Java\\jdk-21\""),
        ("identifier", "System.getProperty(\"db.password\")"),
        ("identifier", "var cred = new NetworkCredential(user, password);"),
        ("identifier", "r = requests.get(url, auth=(user, password))"),
        ("identifier", "req.SetBasicAuth(user, pass)"),
        ("identifier", "words = tokenize(text)"),
        ("identifier", "auth: { username, password },"),
        ("identifier", "@Value(\"${app.password}\")"),
        ("identifier", "private String password;"),
        ("identifier", "func (c *Client) SetToken(token string) {"),
        ("identifier", "def set_password(self, raw_password):"),
        ("build_log", "kubectl create secret generic app --from-file=password=./pw.txt"),
        ("build_log", "gh secret set NPM_TOKEN < token.txt"),
        ("build_log", "aws ssm get-parameter --name /app/db_password --with-decryption"),
        ("build_log", "vault kv get -field=password secret/app"),
        ("build_log", "heroku config:get DATABASE_URL -a acme-api"),
        ("build_log", "secret/app-db created"),
        ("build_log", "Adding authorized_keys for deploy"),
        ("prose", "Passenger boarding pass printed."),
        ("prose", "The secretary scheduled the keynote for Monday."),
        ("prose", "login with your SSO account and password manager"),
        ("prose", "credentials for staging are in the vault"),
        ("placeholder", "machine api.example.com login ci password $NETRC_PASSWORD"),
        ("placeholder", "$env:API_TOKEN = \"$(Get-Secret ApiToken)\""),
        ("placeholder", "heroku config:set API_KEY=$API_KEY -a acme-api"),
        ("placeholder", "gh secret set NPM_TOKEN --body \"$NPM_TOKEN\""),
        ("placeholder", "| password | `<set in vault>` | prod |"),
    ]


def tune_only_cases(rng, keys, values, n_pos, n_neg):
    """Tune-only positives and negatives from the third group (plus tune's own keys and values)."""
    keys = list(keys) + TUNE_ONLY_KEY_WORDS
    values = list(values) + TUNE_ONLY_VALUES
    cases = []
    for i in range(n_pos):
        x = rng.random()
        if x < 0.62:
            name, styles, fn = rng.choice(TUNE_ONLY_KEYED)
            words = rng.choice(keys)
            how = rng.choice(styles)
            k = prefixed_key(rng, words, how) if name not in ("curl-header", "httpie-header") else style(words, "kebab")
            v = rng.choice(values)(rng)
            text, secrets = fn(rng, k, v), [v]
            kind = "password" if any(w in ("password", "passwd", "pwd", "pass", "passphrase") for w in words) else "generic_secret"
        elif x < 0.80:
            kind, form = rng.choice(TUNE_ONLY_FIXED)
            p = rng.choice([v_punct, v_short_password, v_password_words, v_password_symbols, v_alnum])(rng)
            if "'{p}'" not in form and '"{p}"' not in form:
                p = p.replace("'", "").replace('"', "")
            if "{p}" in form and ("-u " in form or "--user " in form or "-a " in form or "creds" in form):
                p = p.replace(":", "").replace("@", "")
            if form.startswith("curl -u") or "http -a" in form:
                p = p.replace("(", "").replace(")", "").replace("&", "")
            text, secrets = form.format(p=p), [p]
        elif x < 0.90:
            scheme = rng.choice(CRED_SCHEMES)
            p = v_url_password(rng)
            user = rng.choice(["admin", "svc", "deploy", "backup", "app"])
            text = rng.choice(["%s://%s:%s@%s/path", "url = \"%s://%s:%s@%s\"", "Connecting to %s://%s:%s@%s ...",
                               "SOURCE_URL=%s://%s:%s@%s/repo"]) % (scheme, user, p, _host(rng))
            secrets, kind = [p], "url_credentials"
        else:
            v = t_npm_uuid(rng)
            text, secrets, kind = rng.choice(TUNE_ONLY_NPM_FORMS).format(v=v), [v], "npm_token"
        assert all(s in text for s in secrets), text
        cases.append({"id": "tune-x%04d" % i, "text": text, "secrets": secrets, "kind": kind})
    for i in range(n_neg):
        kind, text = rng.choice(tune_only_negatives(rng))
        cases.append({"id": "tune-xn%04d" % i, "text": text, "secrets": [], "kind": "negative:" + kind})
    return cases


TUNE_ONLY_POSITIVES = 1400
TUNE_ONLY_NEGATIVES = 1000


# ---------------------------------------------------------------- tune-only, third group
# Real file formats and tool invocations written from their documentation,
# none of them in the earlier groups. Fixed forms ({v} is the secret).
def v_b64_std(rng):
    n = rng.choice([24, 32, 40, 44, 60])
    body = rstr(rng, string.ascii_letters + string.digits + "+/", n)
    return body + "=" * rng.choice([0, 1, 2])


def v_hex40(rng):
    return rstr(rng, HEX, 40)


def v_dashy(rng):
    return mixed(rng, rng.randint(20, 36), URLSAFE)


def v_pass_mixed(rng):
    return rng.choice(WORDS).capitalize() + rng.choice(SYMBOLS) + str(rng.randint(10, 9999)) + rng.choice(WORDS)


THIRD_VALUES = [v_b64_std, v_hex40, v_dashy, v_pass_mixed]

THIRD_FORMS = [
    # package managers and registries
    ("generic_secret", "[pypi]\nusername = __token__\npassword = {v}"),
    ("generic_secret", "[registry]\ntoken = \"{v}\""),
    ("generic_secret", "[registries.acme]\ntoken = \"{v}\""),
    ("generic_secret", "<add key=\"ClearTextPassword\" value=\"{v}\" />"),
    ("generic_secret", "<server>\n  <id>releases</id>\n  <username>ci</username>\n  <password>{v}</password>\n</server>"),
    ("generic_secret", "signing.password={v}"),
    ("generic_secret", "ossrhPassword={v}"),
    ("generic_secret", "  \"auths\": {{ \"registry.acme.io\": {{ \"auth\": \"{v}\" }} }}"),
    ("generic_secret", "composer config --global http-basic.repo.acme.io ci {v}"),
    ("generic_secret", "poetry config pypi-token.pypi {v}"),
    ("generic_secret", "yarn config set npmAuthToken {v}"),
    # cloud and cluster config files
    ("generic_secret", "[default]\naws_access_key_id = AKIA{a}\naws_secret_access_key = {v}"),
    ("generic_secret", "users:\n- name: ci\n  user:\n    token: {v}"),
    ("generic_secret", "    client-key-data: {v}"),
    ("generic_secret", "provider \"aws\" {{\n  access_key = \"AKIA{a}\"\n  secret_key = \"{v}\"\n}}"),
    ("generic_secret", "gcloud auth activate-service-account --key-file=key.json # key: {v}"),
    ("generic_secret", "az login --service-principal -u app-id -p {v} --tenant acme"),
    ("generic_secret", "doctl auth init --access-token {v}"),
    # web frameworks
    ("generic_secret", "define( 'AUTH_KEY', '{v}' );"),
    ("password", "define( 'DB_PASSWORD', '{v}' );"),
    ("generic_secret", "SECRET_KEY = '{v}'"),
    ("generic_secret", "secret_key_base: {v}"),
    ("generic_secret", "APP_KEY=base64:{v}"),
    ("generic_secret", "config.secret_token = '{v}'"),
    ("generic_secret", "app.config['SECRET_KEY'] = '{v}'"),
    ("generic_secret", "  jwt:\n    secret: {v}"),
    ("password", "spring.mail.password={v}"),
    ("password", "  mail:\n    password: \"{v}\""),
    # databases and services
    ("password", "db.example.com:5432:app:app:{v}"),
    ("password", "[client]\nuser=root\npassword={v}"),
    ("password", "requirepass {v}"),
    ("password", "masterauth {v}"),
    ("password", "redis-cli -h cache -a '{v}' ping"),
    ("password", "mysqladmin -uroot -p{v} status"),
    ("password", "mongosh \"mongodb://db:27017\" -u admin -p '{v}'"),
    ("password", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"svc\" password=\"{v}\";"),
    ("password", "rabbitmqctl add_user svc '{v}'"),
    ("password", "htpasswd -b -c .htpasswd admin '{v}'"),
    ("password", "openssl pkcs12 -export -in c.pem -out c.p12 -passout pass:{v}"),
    ("password", "openssl rsa -in key.pem -passin pass:{v} -out plain.pem"),
    ("password", "keytool -importkeystore -srcstorepass {v} -deststorepass {v} -srckeystore a.p12"),
    ("password", "jarsigner -storepass {v} app.jar release"),
    ("password", "zip -P {v} backup.zip db.sql"),
    ("password", "7z a -p{v} backup.7z db.sql"),
    ("password", "smbclient //files/share -U svc%{v}"),
    ("password", "ldapsearch -x -D cn=admin,dc=acme -w {v} -b dc=acme"),
    ("password", "sqlcmd -S db -U sa -P '{v}' -Q 'select 1'"),
    # code: client constructors and headers
    ("generic_secret", "client = OpenAI(api_key=\"{v}\")"),
    ("generic_secret", "s3 = boto3.client('s3', aws_secret_access_key='{v}')"),
    ("generic_secret", "os.environ[\"SERVICE_TOKEN\"] = \"{v}\""),
    ("generic_secret", "headers = {{\"Authorization\": \"Bearer {v}\"}}"),
    ("generic_secret", "const client = new Client({{ apiKey: '{v}' }});"),
    ("generic_secret", "axios.defaults.headers.common['X-Api-Key'] = '{v}';"),
    ("generic_secret", "fetch(url, {{ headers: {{ Authorization: `token {v}` }} }})"),
    ("generic_secret", "options.ClientSecret = \"{v}\";"),
    ("generic_secret", "viper.Set(\"auth.secret\", \"{v}\")"),
    ("generic_secret", "req.Header.Set(\"X-Auth-Token\", \"{v}\")"),
    ("generic_secret", "conn.setRequestProperty(\"Authorization\", \"Bearer {v}\");"),
    ("generic_secret", "Authorization: Basic {v}"),
    ("generic_secret", "Cookie: sessionid={v}; csrftoken=abc"),
    ("generic_secret", "Set-Cookie: sid={v}; Path=/; HttpOnly"),
    ("generic_secret", "Proxy-Authorization: Bearer {v}"),
    # URLs, queries, signatures
    ("generic_secret", "GET /v1/items?access_token={v}&page=2 HTTP/1.1"),
    ("generic_secret", "https://hooks.acme.io/services/T0/B0?apikey={v}"),
    ("generic_secret", "wss://stream.acme.io/ws?token={v}"),
    ("generic_secret", "https://acme.blob.core.windows.net/c/f.bin?sv=2022-11-02&sp=r&sig={v}"),
    # logs and prose
    ("generic_secret", "INFO uploading artifacts with token {v}"),
    ("generic_secret", "DEBUG sending Authorization: Bearer {v}"),
    ("password", "WARN login failed for user bob with password '{v}'"),
    ("generic_secret", "here's the key you asked for: {v}"),
    ("password", "my password is {v} btw"),
    ("generic_secret", "use {v} as the api token for now"),
    ("generic_secret", "# api secret (rotate monthly): {v}"),
    ("generic_secret", "/* signing secret */ const S = '{v}';"),
    # shells and heredocs
    ("generic_secret", "cat > .env <<EOF\nSTRIPE_SECRET={v}\nEOF"),
    ("password", "password: |\n  {v}"),
    ("generic_secret", "read -r TOKEN <<< \"{v}\""),
    ("generic_secret", "printf '%s' '{v}' | gh auth login --with-token"),
    ("generic_secret", "git clone https://oauth2:{v}@gitlab.acme.io/team/app.git"),
    ("generic_secret", "git remote set-url origin https://x-access-token:{v}@github.com/acme/app"),
]

THIRD_NEGATIVES = [
    ("placeholder", "password: ${{DB_PASSWORD}}"),
    ("placeholder", "token: {{{{ .Values.auth.token }}}}"),
    ("placeholder", "api_key: <YOUR_API_KEY>"),
    ("placeholder", "secret_key: null"),
    ("placeholder", "token: \"\""),
    ("placeholder", "password: \"********\""),
    ("placeholder", "Authorization: Bearer $TOKEN"),
    ("placeholder", "SECRET_KEY = os.environ[\"SECRET_KEY\"]"),
    ("placeholder", "token = env!(\"CARGO_REGISTRY_TOKEN\");"),
    ("placeholder", "define( 'AUTH_KEY', 'put your unique phrase here' );"),
    ("build_log", "echo \"$CR_PAT\" | docker login ghcr.io -u ci --password-stdin"),
    ("build_log", "Login Succeeded"),
    ("build_log", "npm notice Publishing to https://registry.npmjs.org/ with tag latest"),
    ("build_log", "Uploading distributions to https://upload.pypi.org/legacy/"),
    ("config_number", "PASSWORD_MIN_LENGTH=12"),
    ("config_number", "token_expiry_seconds: 3600"),
    ("config_number", "session_timeout = 1800"),
    ("identifier", "fn verify_password(password: &str, hash: &PasswordHash) -> bool {{"),
    ("identifier", "export function useAuthToken(): string | undefined {{"),
    ("identifier", "class ApiKeyAuthenticationHandler : AuthenticationHandler<ApiKeyOptions>"),
    ("identifier", "const tokenInput = document.querySelector('.token-input');"),
    ("digest", "\"integrity\": \"sha512-{b64}==\""),
    ("digest", "<script src=\"app.js\" integrity=\"sha384-{b64}\"></script>"),
    ("digest", "FROM node@sha256:{hex64}"),
    ("digest", "golang.org/x/crypto v0.31.0 h1:{b64}="),
    ("digest", "\"checksum\": \"{hex64}\""),
    ("digest", "etag: \"{hex32}\""),
    ("uuid", "X-Request-Id: {uuid}"),
    ("uuid", "\"id\": \"{uuid}\","),
    ("digest", "trace_id={hex32} span_id={hex16}"),
    ("git_sha", "HEAD is now at {hex40} fix token refresh"),
    ("url", "password_reset_url=https://acme.io/account/reset"),
    ("url", "\"resolved\": \"https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz\""),
    ("prose", "Rotate the signing key every 90 days and revoke old tokens."),
    ("prose", "The API key is sent in the X-Api-Key header."),
    ("prose", "If the password is wrong three times the account is locked."),
    ("cli_help", "  -p, --password <PASSWORD>   password for the registry (or set REGISTRY_PASSWORD)"),
    ("cli_help", "      --token-file <PATH>     read the token from PATH"),
    ("k8s", "        - secretRef:\n            name: app-secrets"),
    ("test_name", "test auth::tokens::rejects_expired_token ... ok"),
    ("test_name", "PASSED tests/test_secrets.py::test_secret_key_is_required"),
]


def third_cases(rng, n_pos, n_neg):
    """Tune-only cases of the third group."""
    cases = []
    for i in range(n_pos):
        kind, form = rng.choice(THIRD_FORMS)
        v = rng.choice(THIRD_VALUES)(rng)
        if "'{v}'" not in form:
            v = v.replace("'", "")
        if "{v}@" in form:
            v = v.replace("/", "").replace("+", "")  # a URL's user info cannot hold them unescaped
        if " -p{v}" in form or "%{v}" in form or "pass:{v}" in form or "-P {v}" in form:
            v = v.replace(" ", "")
        text = form.format(v=v, a=rstr(rng, string.ascii_uppercase + string.digits, 16))
        assert v in text, text
        cases.append({"id": "tune-y%04d" % i, "text": text, "secrets": [v], "kind": kind})
    for i in range(n_neg):
        kind, form = rng.choice(THIRD_NEGATIVES)
        text = form.format(b64=rstr(rng, string.ascii_letters + string.digits + "+/", 43), hex64=rstr(rng, HEX, 64),
                           hex32=rstr(rng, HEX, 32), hex16=rstr(rng, HEX, 16), hex40=rstr(rng, HEX, 40),
                           uuid=v_uuid(rng))
        cases.append({"id": "tune-yn%04d" % i, "text": text, "secrets": [], "kind": "negative:" + kind})
    return cases


THIRD_KEYS = ["requirepass", "ldap_bindpw", "masterauth", "consumer_secret", "consumer_key", "SECURITY_SALT",
              "hash_salt", "pepper", "mnemonic", "passwort", "senha", "mot_de_passe", "privkey", "bot_key",
              "subscription_key", "instrumentation_key", "recovery_code", "otp_seed", "refresh", "dbpass"]
THIRD_KEY_FORMS = ["{k}={v}", "{k}: \"{v}\"", "  {k} = '{v}'", "\"{k}\": \"{v}\","]
THIRD_KEY_NEGATIVES = [("config_value", "bypass_cache=true"), ("config_number", "compass_heading: 270"),
                       ("config_number", "salt_rounds: 12000"), ("config_value", "SALT_LAKE_CITY=utah"),
                       ("config_value", "refresh: always"), ("config_value", "license: Apache-2.0")]


def third_key_cases(rng, n_pos, n_neg):
    """Tune-only keyed cases under the third group's key names."""
    cases = []
    for i in range(n_pos):
        k, form = rng.choice(THIRD_KEYS), rng.choice(THIRD_KEY_FORMS)
        v = rng.choice([v_b64_std, v_hex40, v_dashy, v_alnum])(rng)
        kind = "password" if any(w in k.lower() for w in ("pass", "pw", "senha", "passwort", "auth")) else "generic_secret"
        cases.append({"id": "tune-z%04d" % i, "text": form.format(k=k, v=v), "secrets": [v], "kind": kind})
    for i in range(n_neg):
        kind, text = rng.choice(THIRD_KEY_NEGATIVES)
        cases.append({"id": "tune-zn%04d" % i, "text": text, "secrets": [], "kind": "negative:" + kind})
    return cases


THIRD_POSITIVES = 900
THIRD_NEGATIVES_N = 500


# ---------------------------------------------------------------- split and assemble
def split(items, rng):
    items = list(items)
    rng.shuffle(items)
    half = len(items) // 2
    return items[:half], items[half:]


def keyed_case(r, tpl, key_words, values):
    name, styles, fn = tpl
    k = style(key_words, r.choice(styles))
    v = r.choice(values)(r)
    if name in ("http-header",):
        k = style(key_words, "kebab")
    text = fn(r, k, v)
    return text, [v], "generic_secret" if not any(w in ("password", "passwd", "pwd", "pass", "passphrase") for w in key_words) else "password"


def build(split_name, templates, key_vocab, values, conn, vendor_forms, card_tpls, card_seps, neg_keep, rng):
    cases = []
    n_neg = int(CASES_PER_SPLIT * NEGATIVE_SHARE)
    n_pos = CASES_PER_SPLIT - n_neg
    pos_mix = [("keyed", 0.50), ("conn", 0.12), ("vendor", 0.16), ("jwt", 0.03), ("card", 0.12), ("pii", 0.07)]
    for i in range(n_pos):
        x = rng.random()
        acc = 0
        for what, share in pos_mix:
            acc += share
            if x < acc:
                break
        if what == "keyed":
            text, secrets, kind = keyed_case(rng, rng.choice(templates), rng.choice(key_vocab), values)
            kinds = None
        elif what == "conn":
            fn = rng.choice(conn)
            p = v_url_password(rng) if fn in URL_SAFE_CONN else rng.choice([v_password_symbols, v_password_dollar_at, v_password_words])(rng)
            if fn not in URL_SAFE_CONN:
                p = p.replace(";", "").replace('"', "")
            text, secrets, kind, kinds = fn(rng, p), [p], "url_credentials" if fn in URL_SAFE_CONN else "password", None
        elif what == "vendor":
            kind, gen, forms = rng.choice(vendor_forms)
            v = gen(rng)
            text, secrets, kinds = rng.choice(forms).format(v=v), [v], None
        elif what == "jwt":
            text, secrets, kinds = jwt_case(rng)
            kind = "jwt"
        elif what == "card":
            prefix, lengths = rng.choice(ISSUERS)
            num = luhn_complete(prefix, rng.choice(lengths), rng)
            sep = rng.choice(card_seps)
            c = group(num, sep, rng) if sep is not None else num
            text = rng.choice(card_tpls).format(c=c, o=rng.randint(1000, 99999), last=num[-4:])
            secrets, kind, kinds = [c], "credit_card", None
        else:
            text, secrets, kind = pii_case(rng, rng.choice(["email", "ssn", "ipv4"]))
            kinds = None
        case = {"id": "%s-%04d" % (split_name, i), "text": text, "secrets": secrets, "kind": kind}
        if kinds:
            case["secret_kinds"] = kinds
        assert all(s in text for s in secrets), case
        cases.append(case)
    for i in range(n_neg):
        kind, text = neg_cases(rng)[rng.choice(neg_keep)]
        cases.append({"id": "%s-n%04d" % (split_name, i), "text": text, "secrets": [], "kind": "negative:" + kind})
    rng.shuffle(cases)
    return cases


def main():
    split_rng = random.Random(SPLIT_SEED)
    tune_tpl, hold_tpl = split(KEYED, split_rng)
    tune_keys, hold_keys = split(KEY_WORDS, split_rng)
    tune_vals, hold_vals = split(VALUE_GENERATORS, split_rng)
    tune_conn, hold_conn = split(CONN, split_rng)
    # Vendor shapes: every shape in both splits (they are formats, not syntax),
    # but the surrounding forms are split.
    tune_vendor, hold_vendor = [], []
    for kind, gen, forms in VENDOR:
        a, b = split(forms, split_rng)
        if not a:
            a = b
        tune_vendor.append((kind, gen, a))
        hold_vendor.append((kind, gen, b or a))
    tune_cards, hold_cards = split(CARD_TEMPLATES, split_rng)
    # both splits see every issuer and length; separators differ partly
    tune_seps, hold_seps = [None, " ", "-"], [None, "-", " "]
    tune_neg, hold_neg = split(range(len(neg_cases(random.Random(0)))), split_rng)
    here = os.path.dirname(os.path.abspath(__file__))
    for name, args, seed in [("tune", (tune_tpl, tune_keys, tune_vals, tune_conn, tune_vendor, tune_cards, tune_seps, tune_neg), 1),
                             ("holdout", (hold_tpl, hold_keys, hold_vals, hold_conn, hold_vendor, hold_cards, hold_seps, hold_neg), 2)]:
        cases = build(name, *args, random.Random(SPLIT_SEED + seed))
        if name == "tune":
            extra = tune_only_cases(random.Random(SPLIT_SEED + 3), tune_keys, tune_vals,
                                    TUNE_ONLY_POSITIVES, TUNE_ONLY_NEGATIVES)
            third = third_cases(random.Random(SPLIT_SEED + 4), THIRD_POSITIVES, THIRD_NEGATIVES_N)
            third += third_key_cases(random.Random(SPLIT_SEED + 5), 200, 60)
            cases = cases + extra + third
        with open(os.path.join(here, name + ".jsonl"), "w", encoding="utf-8") as f:
            for c in cases:
                f.write(json.dumps(c, ensure_ascii=False) + "\n")
        npos = sum(1 for c in cases if c["secrets"])
        print("%s: %d cases (%d positive, %d negative)" % (name, len(cases), npos, len(cases) - npos))


if __name__ == "__main__":
    main()
