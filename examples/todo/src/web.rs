//! The web client's static files at `/` (`examples/todo-web`, built into its `dist/`), behind
//! every API route: a path the API does not answer is looked up among the built files, and a
//! path that is neither is the contract's JSON 404.
//!
//! The files are public (`../shared/todo-api.md`): they hold no data, only the code that asks
//! the API for it with the user's token. Hashed assets are cached for a year, `index.html` never,
//! and every file goes out with a content security policy that lets the page talk to its own
//! origin only.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use tower_http::services::ServeDir;

use crate::error::ApiError;

/// Where the example's client is built (`npm run build` in `examples/todo-web`; the `todo`
/// package's build script runs it when the sources changed).
pub(crate) const BUILT_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../todo-web/dist");

/// The page's policy: scripts, styles, images and API calls from this origin only; never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Vite names what it builds into `assets/` by content hash: a changed file is a new name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The router that serves `dir` and answers the contract's 404 for what it does not hold.
pub(crate) fn router(dir: &Path) -> Router {
    let dir: PathBuf = dir.to_path_buf();
    let not_built = dir.join("index.html");
    let files = ServeDir::new(&dir)
        .append_index_html_on_directories(true)
        .call_fallback_on_method_not_allowed(true)
        .fallback(tower::service_fn(move |request: Request| {
            let not_built = not_built.clone();
            async move { Ok::<_, std::convert::Infallible>(missing(&request, &not_built)) }
        }));
    Router::new()
        .fallback_service(files)
        .layer(axum::middleware::from_fn(headers))
}

/// Not among the built files: the client's page if the client was never built, the API's 404
/// otherwise.
fn missing(request: &Request, index: &Path) -> Response {
    let wants_page = request.method() == Method::GET
        && matches!(request.uri().path(), "/" | "/index.html")
        && !index.exists();
    if wants_page {
        return (StatusCode::NOT_FOUND, Html(NOT_BUILT)).into_response();
    }
    ApiError::NotFound.into_response()
}

/// What `/` shows before the client is built.
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>todo</title>\
<h1>The web client is not built</h1>\
<p>Install Node.js 20 or later and run <code>cargo run -p todo-example</code> again (its build \
script builds <code>examples/todo-web</code>), or build it yourself: \
<code>cd examples/todo-web &amp;&amp; npm ci &amp;&amp; npm run build</code>. \
Set <code>TODO_WEB_DIR</code> to serve a client built elsewhere.</p>\
<p>The API is here all the same: <code>POST /dev/token</code>, then <code>/lists</code>.</p>";

/// Security and cache headers on every static answer.
async fn headers(request: Request, next: Next) -> Response {
    let immutable = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let cache = if immutable && response.status().is_success() {
        IMMUTABLE
    } else {
        "no-cache"
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn get(router: &Router, path: &str) -> Response {
        router
            .clone()
            .oneshot(
                Request::builder()
                    .uri(path)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap()
    }

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn serves_the_built_files_with_their_headers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<p>app</p>").unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/index-abc123.js"), "let x = 1;").unwrap();
        let router = router(dir.path());

        let index = get(&router, "/").await;
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(
            index.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(index.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(text(index).await, "<p>app</p>");

        let asset = get(&router, "/assets/index-abc123.js").await;
        assert_eq!(asset.status(), StatusCode::OK);
        assert_eq!(asset.headers()[header::CACHE_CONTROL], IMMUTABLE);
        assert!(
            asset.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .contains("javascript")
        );
    }

    #[tokio::test]
    async fn what_is_not_there_is_the_contracts_404_and_nothing_escapes_the_directory() {
        let outer = tempfile::tempdir().unwrap();
        std::fs::write(outer.path().join("secret.key"), "TOP-SECRET").unwrap();
        let dir = outer.path().join("dist");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("index.html"), "<p>app</p>").unwrap();
        let router = router(&dir);

        for path in [
            "/nope",
            "/assets/missing.js",
            "/../secret.key",
            "/%2e%2e/secret.key",
            "/assets/..%2f..%2fsecret.key",
        ] {
            let response = get(&router, path).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
            let body = text(response).await;
            assert!(body.contains("\"not_found\""), "{path}: {body}");
            assert!(!body.contains("TOP-SECRET"), "{path}: {body}");
        }
    }

    #[tokio::test]
    async fn an_unbuilt_client_says_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        let router = router(&dir.path().join("dist"));
        let page = get(&router, "/").await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        assert!(text(page).await.contains("npm run build"));
        let api = get(&router, "/nope").await;
        assert!(text(api).await.contains("\"not_found\""));
    }
}
