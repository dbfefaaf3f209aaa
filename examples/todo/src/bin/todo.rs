//! The todo service, locally: `cargo run -p todo-example` serves `127.0.0.1:3000` (`PORT`) on the
//! embedded store in `./.todo-data` (`TODO_DATA_DIR`), as its own development issuer unless
//! `TODO_ISSUER` is set.
#![allow(clippy::print_stdout)]

use todo::{Config, IdentityConfig, Server};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    saas_core::logging::init()?;
    let config = Config::from_env()?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let server = Server::start(config.clone(), &format!("127.0.0.1:{port}")).await?;
    let url = server.url();
    println!(
        "todo service on {url} (data in {})",
        config.data_dir.display()
    );
    if config.identity == IdentityConfig::Development {
        println!("\nsign in (development issuer):");
        println!(
            "  TOKEN=$(curl -s {url}/dev/token -H 'content-type: application/json' \
             -d '{{\"email\":\"ann@example.com\"}}' | sed 's/.*\"id_token\":\"\\([^\"]*\\)\".*/\\1/')"
        );
        println!(
            "  curl -s {url}/lists -H \"authorization: Bearer $TOKEN\" \
                  -H 'content-type: application/json' -d '{{\"name\":\"groceries\"}}'"
        );
        println!("  curl -s {url}/lists -H \"authorization: Bearer $TOKEN\"\n");
    }
    server.wait().await?;
    Ok(())
}
