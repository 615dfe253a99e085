//! The commented `config.toml` that `init` writes: every setting, its comment, its value.
//!
//! The values come from serializing a [`Config`], so the file always holds exactly the
//! settings the server reads; a test checks that every setting has a comment and that the
//! file parses back to the same configuration.

use super::Config;

/// Comments of the top-level settings, in file order.
const TOP: &[(&str, &str)] = &[
    ("listen", "Address of the public listener: uploads and downloads (HTTPS unless --insecure-http)."),
    ("admin_listen", "Address of the admin listener: /metrics for operators. Keep it on loopback or a\n# private network: it is never needed by phones or authorities."),
    ("region", "The region this server publishes batches for."),
    ("audience", "What verification certificates must name as their audience to be accepted here."),
    ("tls_cert", "TLS certificate chain (PEM). `init` makes a self-signed pair for localhost."),
    ("tls_key", "TLS private key (PEM), mode 0600."),
    ("export_keys", "Export signing keys. Phones may trust several; list old and new during a rotation."),
    ("active_export_key", "The export key that signs new batches, the index and the risk configuration."),
    ("batch_period_seconds", "A batch is closed every this many seconds; must divide 86400. Default: daily."),
    ("index_refresh_seconds", "The index and risk configuration are re-signed at least this often; phones refuse\n# ones older than 6 hours (a frozen or replayed index is detected). At most 21600."),
    ("min_batch_size", "Batches are padded with random keys, with metadata from a fixed distribution, up to\n# this many keys."),
    ("min_trace_batch_size", "Venue trace batches (closed with each batch) are padded with fake traces, at hours\n# spread like the real ones, up to this many entries (369 bytes each)."),
    ("retention_days", "Days keys, batches and upload records are kept."),
    ("max_key_age_days", "Keys that expired more than this many days ago are rejected."),
    ("max_keys_per_upload", "Most keys one upload may carry (GAEN: 30)."),
    ("max_report_age_seconds", "Case reports issued longer ago than this are rejected (their nonces are kept this long)."),
    ("max_certificate_lifetime_seconds", "Verification certificates valid for longer than this are rejected; a certificate's\n# replay record is kept only until it expires."),
    ("clock_skew_seconds", "Clock difference tolerated for reports and certificates that claim a future issue time."),
    ("authority_daily_upload_quota", "Uploads accepted per health authority per UTC day (case reports and certified uploads)."),
    ("max_reports_per_bulk", "Most case reports in one POST /v1/cases/bulk (each is verified and counts against the quota)."),
    ("publish_body_bytes", "Every POST /v1/publish body must be exactly this many bytes (clients pad), so real and\n# fake uploads of any size look alike on the wire. 0 accepts any size."),
    ("publish_release_period_ms", "Answers to POST /v1/publish (real or fake) are released at the next multiple of this\n# many milliseconds, so their timing does not tell them apart. 0 answers at once."),
    ("store", "Where uploads, venue traces, verification codes and the chains' heads are stored:\n# \"sled\" (db/ here; one process), or a PostgreSQL database that several replicas share\n# (docs/deployment.md):\n#   store = { postgres = \"postgres://en@db.example:5432/en\", password_file = \"db.password\" }\n# (or password_env = \"EN_DB_PASSWORD\"; never the password in the URL; pool_size = 16;\n# ?sslmode=require with ca_file = \"db-ca.pem\" for TLS)."),
    ("objects", "Where batches, the index and the risk configuration are published: \"local\" (objects/\n# here), { dir = \"/srv/en-objects\" } (e.g. served by nginx), or an S3-compatible bucket\n# that a CDN serves: { s3 = \"s3://bucket/prefix\", endpoint = \"https://…\", region = \"…\",\n# access_key_id = \"…\", secret_access_key_file = \"s3.secret\" } (or the AWS_* variables)."),
];

/// Comments of the `[limits]` settings.
const LIMITS: &[(&str, &str)] = &[
    ("max_body_bytes", "Largest request body accepted (bytes); larger requests get 413."),
    ("max_bulk_body_bytes", "Largest body of POST /v1/cases/bulk (bytes)."),
    ("max_bodies_in_flight_bytes", "Memory all request bodies being received may take together; beyond it, 503."),
    ("tls_handshake_timeout_seconds", "Seconds allowed for the TLS handshake."),
    ("header_timeout_seconds", "Seconds allowed to send a request's headers; also how long an idle keep-alive\n# connection lives."),
    ("request_timeout_seconds", "Seconds allowed for a whole request, body included; slower clients get 408."),
    ("write_timeout_seconds", "A connection whose peer takes none of our bytes for this long is closed (clients that\n# pipeline requests and never read the answers cannot hold a connection)."),
    ("max_connections", "Open connections at most; connections beyond are closed at once."),
    ("batch_cache_max_age_seconds", "Cache-Control max-age of batch downloads (batches are immutable)."),
    ("index_cache_max_age_seconds", "Cache-Control max-age of the index and risk configuration in an object store (what\n# a CDN may cache them for; at most index_refresh_seconds)."),
];

const CONSOLE_HEADER: &str =
    "# Verification codes (POST /v1/verify, /v1/certificate) and the health authority console
# (on the admin listener); spec/verification.md.";

const RISK_HEADER: &str =
    "# Exposure scoring parameters, signed and published at /v1/config (spec/wire-format.md §7).
# Weights are hundredths (100 = 1.0, at most 250). infectiousness_by_dsos: 29 values for days
# since symptom onset -14..=14; 0 none, 1 standard, 2 high.";

const FEDERATION_HEADER: &str =
    "# Federation with other regions' servers (spec/federation.md). Empty: none.
# outbound_regions: regions this server publishes a federation chain for
#   (/v1/federation/{REGION}/index and /batches/{seq}); keys of shareable uploads that name
#   the region in visited_regions go there.
# share_authorities: authority ids whose certified uploads may be shared (others stay home).
# peers: servers whose federation chain for this region is imported, e.g.
#   [[federation.peers]]
#   region = \"VN-KG\"                              # the peer's region (the keys' origin)
#   url = \"https://kg.example:8443\"               # its public listener
#   export_public_key = \"peers/vn-kg-export.pub\"  # its export public key file
#   tls_ca = \"peers/vn-kg-ca.pem\"                 # optional: CA for its TLS certificate
#   poll_seconds = 60                              # how often its index is fetched
#   max_keys_per_day = 200000                      # keys imported from it per UTC day
#   max_batch_bytes = 8388608                      # largest response read from it
#   timeout_seconds = 30                           # per request";

fn section(out: &mut String, table: &toml::Table, comments: &[(&str, &str)]) {
    for (key, comment) in comments {
        let value = table
            .get(*key)
            .unwrap_or_else(|| panic!("setting {key} is not serialized"));
        out.push_str(&format!("# {comment}\n{key} = {value}\n"));
    }
}

/// Renders `config` with a comment on every setting.
pub fn render(config: &Config) -> String {
    let all = toml::Table::try_from(config).expect("the configuration serializes");
    let table = |k: &str| {
        all.get(k)
            .and_then(toml::Value::as_table)
            .cloned()
            .unwrap_or_default()
    };
    let mut out = String::from(
        "# en-server configuration. Relative paths are relative to this file's directory.\n\n",
    );
    section(&mut out, &all, TOP);
    out.push_str("\n[limits]\n");
    section(&mut out, &table("limits"), LIMITS);
    out.push_str(&format!("\n{CONSOLE_HEADER}\n[console]\n"));
    section(&mut out, &table("console"), super::console::COMMENTS);
    out.push_str(&format!(
        "\n{FEDERATION_HEADER}\n[federation]\n{}",
        toml::to_string(&config.federation).expect("federation settings serialize")
    ));
    out.push_str(&format!(
        "\n{RISK_HEADER}\n[risk]\n{}",
        toml::to_string(&config.risk).expect("risk settings serialize")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_commented_and_the_file_parses_back() {
        let c = Config::default();
        let all = toml::Table::try_from(&c).unwrap();
        let documented: Vec<&str> = TOP
            .iter()
            .chain(LIMITS)
            .chain(super::super::console::COMMENTS)
            .map(|(k, _)| *k)
            .collect();
        for (k, v) in &all {
            match v.as_table() {
                Some(t) if k == "limits" || k == "console" => {
                    for k in t.keys() {
                        assert!(
                            documented.contains(&k.as_str()),
                            "limits.{k} has no comment"
                        );
                    }
                }
                Some(_) => assert!(k == "risk" || k == "federation", "{k} has no comments"),
                None => assert!(documented.contains(&k.as_str()), "{k} has no comment"),
            }
        }
        let text = render(&c);
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(
            toml::Table::try_from(&back).unwrap(),
            all,
            "the template is the default configuration"
        );
    }
}
