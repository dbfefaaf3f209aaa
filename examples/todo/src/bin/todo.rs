//! The todo service, locally: `cargo run -p todo-example` serves `127.0.0.1:3000` (`PORT`) on the
//! embedded store in `./.todo-data` (`TODO_DATA_DIR`), as its own development issuer unless
//! `TODO_ISSUER` is set.

use std::io::Write;

use todo::{Config, IdentityConfig, Server};

/// mimalloc rather than glibc's allocator: a page of 50 todos makes some 400 small allocations,
/// and the server answers on several threads at once (docs/performance-todo.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    saas_core::logging::init()?;
    let config = Config::from_env()?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let server = Server::start(config.clone(), &format!("127.0.0.1:{port}")).await?;
    let url = server.url();
    // The banner is for whoever reads stdout; a reader that has gone (a closed pipe) must not
    // stop the server, so write errors are ignored rather than panicking as `println!` does.
    let mut banner = format!(
        "todo service on {url} (data in {})\n",
        config.data_dir.display()
    );
    if config.identity == IdentityConfig::Development {
        banner.push_str("\nsign in (development issuer):\n");
        banner.push_str(&format!(
            "  TOKEN=$(curl -s {url}/dev/token -H 'content-type: application/json' \
             -d '{{\"email\":\"ann@example.com\"}}' | sed 's/.*\"id_token\":\"\\([^\"]*\\)\".*/\\1/')\n"
        ));
        banner.push_str(&format!(
            "  curl -s {url}/lists -H \"authorization: Bearer $TOKEN\" \
                  -H 'content-type: application/json' -d '{{\"name\":\"groceries\"}}'\n"
        ));
        banner.push_str(&format!(
            "  curl -s {url}/lists -H \"authorization: Bearer $TOKEN\"\n\n"
        ));
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush());
    drop(stdout);
    server.wait().await?;
    Ok(())
}
