//! The health authority console as a person uses it: a headless Chromium (Debian's `chromium`
//! and `chromium-driver`, installed by `.ci/install.sh`), driven over WebDriver, signs in,
//! issues a code and reads it from the page; a phone redeems it and uploads. A wrong password
//! and a form without its CSRF token are refused. Screenshots of the pages go to `docs/`
//! (the README shows them) with `EN_UPDATE_SCREENSHOTS=1`.
//!
//! Without `chromedriver` on the PATH the browser test says so and passes, unless
//! `EN_REQUIRE_ALL_TESTS=1` (`.ci/run`) makes a missing browser a failure. The HTTP-level checks run
//! everywhere.

mod common;

use base64::Engine;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use en_server::console::users::{self, Role};
use fantoccini::{ClientBuilder, Locator};

/// A chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
}

async fn driver() -> Option<Driver> {
    let Some(bin) = find_tool("chromedriver") else {
        assert!(
            std::env::var_os("EN_REQUIRE_ALL_TESTS").is_none(),
            "EN_REQUIRE_ALL_TESTS is set but chromedriver is not on the PATH (.ci/install.sh installs it)"
        );
        eprintln!(
            "SKIPPED: chromedriver is not on the PATH (apt-get install chromium chromium-driver)"
        );
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let d = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(d);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on port {port} within 10 s");
}

async fn browser(driver: &Driver, lang: &str) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": find_tool("chromium").map(|p| p.display().to_string()).unwrap_or_default(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=900,1100", format!("--lang={lang}")],
            "prefs": {"intl.accept_languages": lang},
        }),
    );
    // The server's certificate is self-signed for localhost.
    caps.insert("acceptInsecureCerts".into(), serde_json::json!(true));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Where screenshots go: `docs/` with `EN_UPDATE_SCREENSHOTS=1` (they show codes and dates
/// that change on every run, so an ordinary test run does not touch the repository), else
/// the test's scratch directory.
fn docs() -> PathBuf {
    let d = if std::env::var_os("EN_UPDATE_SCREENSHOTS").is_some() {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots")
    };
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn screenshot(c: &fantoccini::Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    std::fs::write(docs().join(name), png).unwrap();
}

async fn text(c: &fantoccini::Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Clicks the button `id` and waits until the page it submits to has replaced this one (a
/// click returns before the navigation it starts).
async fn click_and_load(c: &fantoccini::Client, id: &str) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for _ in 0..200 {
        if old.tag_name().await.is_err() {
            c.wait()
                .at_most(Duration::from_secs(10))
                .for_element(Locator::Css("main"))
                .await
                .unwrap();
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("clicking #{id} did not load a page within 10 s");
}

async fn sign_in(c: &fantoccini::Client, base: &str, name: &str, password: &str) {
    c.goto(&format!("{base}/console/login")).await.unwrap();
    c.find(Locator::Id("name"))
        .await
        .unwrap()
        .send_keys(name)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    click_and_load(c, "login").await;
}

/// A server holding its authority's key, with an admin account; its password.
async fn console_server() -> (TestServer, String) {
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600;
    let s = TestServer::start_with(cfg).await;
    s.hold_authority_key();
    let file = en_server::datadir::DataDir::new(s.dir()).console_users();
    let password = users::add_user(&file, "alice", AUTHORITY, Role::Admin).unwrap();
    (s, password.expose().to_string())
}

/// An HTTPS client of the admin listener that trusts the test certificate and does not
/// follow redirects.
fn http(s: &TestServer) -> reqwest::Client {
    let pem = std::fs::read(s.ca()).unwrap();
    en_client::transport::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_issue_a_code_in_a_browser_and_a_phone_uploads_with_it() {
    let Some(driver) = driver().await else {
        return;
    };
    let (mut s, password) = console_server().await;
    let base = s.server.admin_url.clone();
    let c = browser(&driver, "en-US").await;

    // The login page, then a wrong password: refused, still signed out.
    c.goto(&format!("{base}/console/login")).await.unwrap();
    screenshot(&c, "console-login.png").await;
    sign_in(&c, &base, "alice", "not-the-password").await;
    assert_eq!(text(&c, "#error").await, "Wrong account name or password.");
    assert!(c
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/console/login"));

    // The right password: the issue form.
    sign_in(&c, &base, "alice", &password).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/console/");
    screenshot(&c, "console-issue.png").await;

    // Issue a code with a short code (the form's defaults: confirmed, tested today).
    click_and_load(&c, "issue").await;
    let short: String = text(&c, "#short-code")
        .await
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(short.len(), 8, "{short}");
    let long = text(&c, "#long-code").await;
    assert_eq!(long.len(), 19, "{long}");
    assert!(c.find(Locator::Css(".qr svg")).await.is_ok(), "no QR code");
    screenshot(&c, "console-issued.png").await;

    // The phone redeems the short code the person read out, and uploads.
    let keys = s.keys(14);
    let up =
        en_client::verify::upload_with_code(&s.client, Some(AUTHORITY), &short, &keys, &mut s.rng)
            .await
            .unwrap();
    assert_eq!(up.accepted_keys, 14);

    // A form without its CSRF token, with the browser's own session cookie: refused, and no
    // code issued.
    let cookie = c
        .get_named_cookie("__Host-en_session")
        .await
        .unwrap()
        .value()
        .to_string();
    let before = s.state.verification.store.fingerprint().await.unwrap();
    let r = http(&s)
        .post(format!("{base}/console/issue"))
        .header("cookie", format!("__Host-en_session={cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "test_type=confirmed&test_date={}&short=1",
            en_api::date::Day::of_unix(now().0)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        s.state.verification.store.fingerprint().await.unwrap(),
        before
    );

    // Statistics show the code issued, claimed and its keys; the other pages render.
    c.goto(&format!("{base}/console/stats")).await.unwrap();
    let row = text(&c, "tbody tr").await;
    assert!(row.contains(" 1 1 0 1 14"), "{row}");
    screenshot(&c, "console-stats.png").await;
    for (page, file) in [
        ("keys", "console-keys.png"),
        ("audit", "console-audit.png"),
        ("bulk", "console-bulk.png"),
        ("accounts", "console-accounts.png"),
    ] {
        c.goto(&format!("{base}/console/{page}")).await.unwrap();
        assert!(c.find(Locator::Css("h1")).await.is_ok(), "{page}");
        screenshot(&c, file).await;
    }
    c.close().await.unwrap();

    // The same console in Vietnamese.
    let c = browser(&driver, "vi").await;
    c.goto(&format!("{base}/console/login")).await.unwrap();
    assert_eq!(text(&c, "h1").await, "Đăng nhập");
    sign_in(&c, &base, "alice", &password).await;
    assert_eq!(text(&c, "h1").await, "Cấp mã xác minh");
    screenshot(&c, "console-issue-vi.png").await;
    c.close().await.unwrap();
    s.stop().await.unwrap();
}

/// The same rules over plain HTTP, without a browser: forms need their token, sessions need
/// their cookie, wrong passwords are refused, and the console is not on the public listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_refuses_forged_forms_and_wrong_passwords() {
    let (s, password) = console_server().await;
    let base = s.server.admin_url.clone();
    let h = http(&s);
    let form = |path: &str, cookie: String, body: String| {
        h.post(format!("{base}{path}"))
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let (set, login_cookie, csrf) = login_page(&h, &base).await;
    assert!(
        set.contains("Secure") && set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );

    // Wrong password, and a login form without its token.
    let r = form(
        "/console/login",
        login_cookie.clone(),
        format!("csrf={csrf}&name=alice&password=wrong"),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = form(
        "/console/login",
        login_cookie.clone(),
        format!("name=alice&password={password}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r
        .headers()
        .get("set-cookie")
        .is_none_or(|c| !c.to_str().unwrap().contains("en_session=")));

    // The right password.
    let r = form(
        "/console/login",
        login_cookie,
        format!("csrf={csrf}&name=alice&password={password}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let session = session_cookie(&r);
    let page = h
        .get(format!("{base}/console/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let token = csrf_of(&page.text().await.unwrap());
    let today = en_api::date::Day::of_unix(now().0);
    let before = s.state.verification.store.fingerprint().await.unwrap();
    for body in [
        format!("test_type=confirmed&test_date={today}"),
        format!("csrf=wrong{token}&test_type=confirmed&test_date={today}"),
    ] {
        let r = form("/console/issue", session.clone(), body).await.unwrap();
        assert_eq!(r.status().as_u16(), 403);
    }
    // Without a session: sent to the login page.
    let r = form(
        "/console/issue",
        String::new(),
        format!("csrf={token}&test_type=confirmed&test_date={today}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        s.state.verification.store.fingerprint().await.unwrap(),
        before,
        "a refused form issued a code"
    );
    // With both: a code.
    let r = form(
        "/console/issue",
        session.clone(),
        format!("csrf={token}&test_type=confirmed&test_date={today}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    assert!(r.text().await.unwrap().contains("id=\"long-code\""));
    // The console is only on the admin listener.
    let r = h
        .get(format!("{}/console/login", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // Vietnamese by Accept-Language.
    let r = h
        .get(format!("{base}/console/login"))
        .header("accept-language", "vi-VN,vi;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("<html lang=\"vi\">"));
    s.stop().await.unwrap();
}

/// After `login_failures_before_lockout` wrong passwords the account is locked: the right
/// password is refused too (429) until the lockout ends; another account is not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_lock_the_account() {
    let (s, password) = console_server().await;
    let file = en_server::datadir::DataDir::new(s.dir()).console_users();
    let bob = users::add_user(&file, "bob", AUTHORITY, Role::Staff).unwrap();
    let base = s.server.admin_url.clone();
    let h = http(&s);
    let login = |name: &'static str, password: String| {
        let (h, base) = (h.clone(), base.clone());
        async move {
            let page = h.get(format!("{base}/console/login")).send().await.unwrap();
            let cookie = page.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_string();
            let body = page.text().await.unwrap();
            let csrf = body
                .split("name=\"csrf\" value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string();
            h.post(format!("{base}/console/login"))
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("csrf={csrf}&name={name}&password={password}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let allowed = s.state.cfg.config.console.login_failures_before_lockout;
    for _ in 0..allowed {
        assert_eq!(login("alice", "wrong".into()).await, 401);
    }
    assert_eq!(login("alice", password).await, 429);
    assert_eq!(login("bob", bob.expose().to_string()).await, 303);
    s.stop().await.unwrap();
}

/// The CSRF token of a console page's form.
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .expect("a form with a CSRF token")
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// The login page: its whole `Set-Cookie` header, the cookie to send back, the form's token.
async fn login_page(h: &reqwest::Client, base: &str) -> (String, String, String) {
    let r = h.get(format!("{base}/console/login")).send().await.unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let cookie = set.split(';').next().unwrap().to_string();
    let csrf = csrf_of(&r.text().await.unwrap());
    (set, cookie, csrf)
}

/// The session cookie a successful sign-in sets.
fn session_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("__Host-en_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Signs in over plain HTTPS (no browser): the session cookie and the CSRF token of the
/// console's pages.
async fn http_sign_in(
    h: &reqwest::Client,
    base: &str,
    name: &str,
    password: &str,
) -> (String, String) {
    let (_, cookie, csrf) = login_page(h, base).await;
    let r = h
        .post(format!("{base}/console/login"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&name={name}&password={password}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let session = session_cookie(&r);
    let page = h
        .get(format!("{base}/console/bulk"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let csrf = csrf_of(&page.text().await.unwrap());
    (session, csrf)
}

/// Redeems a long code as a phone would; the HTTP status.
async fn redeem(s: &TestServer, code: &str) -> u16 {
    let body = en_api::verify::padded(
        &en_api::verify::VerifyRequest {
            authority: AUTHORITY.into(),
            code: code.into(),
            fake: false,
            padding: None,
        },
        en_api::verify::PHONE_REQUEST_BYTES,
    )
    .unwrap();
    post_raw(s, "/v1/verify", "application/json", body).await.0
}

/// The two machine-sized ways to issue codes: a CSV of test results in the console, and the
/// back-office API with a key an admin made. Both give codes a phone can redeem; a CSV with a
/// bad line, a wrong or revoked key and a request without results are refused and issue
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_and_back_office_api_issue_redeemable_codes() {
    let (s, password) = console_server().await;
    let base = s.server.admin_url.clone();
    let h = http(&s);
    let today = en_api::date::Day::of_unix(now().0);
    let yesterday = en_api::date::Day(today.0 - 1);
    let codes = || s.state.verification.store.fingerprint();

    // A CSV: a header, two results; one line says what is wrong with it.
    let (session, csrf) = http_sign_in(&h, &base, "alice", &password).await;
    let bulk = |csv: String| {
        let body = format!("csrf={csrf}&csv={}", url_escape(&csv));
        h.post(format!("{base}/console/bulk"))
            .header("cookie", &session)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let before = codes().await.unwrap();
    for bad in [
        format!("test_type,test_date,symptom_onset,reference\nconfirmed,{yesterday},,A-1\npositive,{yesterday},,A-2\n"),
        format!("confirmed,{yesterday},,A-1\nconfirmed,2999-01-01,,A-2\n"),
    ] {
        let r = bulk(bad).await.unwrap();
        assert_eq!(r.status().as_u16(), 422);
        let page = r.text().await.unwrap();
        assert!(page.contains("id=\"error\""), "{page}");
        assert!(!page.contains("data:text/csv"), "a refused CSV gave codes");
    }
    assert_eq!(codes().await.unwrap(), before, "a refused CSV issued codes");
    let r = bulk(format!(
        "test_type,test_date,symptom_onset,reference\nconfirmed,{yesterday},,A-1\nlikely,{yesterday},{yesterday},A-2\n"
    ))
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let page = r.text().await.unwrap();
    let csv = page
        .split("data:text/csv;charset=utf-8;base64,")
        .nth(1)
        .expect("a CSV of the codes to download")
        .split('"')
        .next()
        .unwrap();
    let csv = String::from_utf8(B64.decode(csv).unwrap()).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert_eq!((rows[0][0], rows[0][1]), ("A-1", "confirmed"));
    assert_eq!((rows[1][0], rows[1][1]), ("A-2", "likely"));
    for row in &rows {
        assert_eq!(redeem(&s, row[3]).await, 200, "a code from the CSV");
    }

    // The back office: an API key made for the authority.
    let file = en_server::datadir::DataDir::new(s.dir()).console_users();
    let (id, key) = users::add_api_key(&file, AUTHORITY, "lab system", |k| {
        s.state.verification.hasher.api_key(k)
    })
    .unwrap();
    let api = |key: String, body: serde_json::Value| {
        h.post(format!("{base}/console/api/v1/codes"))
            .header("authorization", format!("Bearer {key}"))
            .json(&body)
            .send()
    };
    let one = serde_json::json!({"tests": [{"test_type": "confirmed", "test_date": yesterday.to_string(), "short": true}]});
    let before = codes().await.unwrap();
    for (k, body, status, code) in [
        (
            format!("{}x", key.expose()),
            one.clone(),
            401,
            "invalid_api_key",
        ),
        (String::new(), one.clone(), 401, "invalid_api_key"),
        (
            key.expose().to_string(),
            serde_json::json!({"tests": []}),
            400,
            "",
        ),
        (
            key.expose().to_string(),
            serde_json::json!({"tests": [{"test_type": "confirmed", "test_date": "2999-01-01"}]}),
            400,
            "invalid_test_result",
        ),
    ] {
        let r = api(k, body).await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        let b: serde_json::Value = r.json().await.unwrap();
        assert!(b["message"].as_str().unwrap().len() > 10, "{b}");
        if !code.is_empty() {
            assert_eq!(b["error"], code, "{b}");
        }
    }
    assert_eq!(
        codes().await.unwrap(),
        before,
        "a refused API request issued codes"
    );
    let r = api(key.expose().to_string(), one.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let answer: en_api::verify::IssueAnswer = r.json().await.unwrap();
    assert_eq!(answer.codes.len(), 1);
    let short = answer.codes[0]
        .short_code
        .clone()
        .expect("a short code was asked for");
    assert_eq!(short.len(), 8);
    assert_eq!(redeem(&s, &answer.codes[0].long_code).await, 200);
    // Single use: the long code's test result is claimed, its short code with it.
    assert_eq!(redeem(&s, &answer.codes[0].long_code).await, 409);

    // Revoked: refused.
    users::revoke_api_key(&file, AUTHORITY, &id).unwrap();
    let r = api(key.expose().to_string(), one).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    s.stop().await.unwrap();
}

/// `application/x-www-form-urlencoded` escaping of a form value.
fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
