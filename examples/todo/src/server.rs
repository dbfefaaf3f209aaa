//! The service as a plain HTTP server on a local address.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::{App, StartError, build};
use crate::config::Config;

/// A running server; it stops when dropped (at once), or with [`Server::stop`] (gracefully).
pub struct Server {
    addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
    stop: Option<oneshot::Sender<()>>,
    app: Option<App>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `addr` (`127.0.0.1:0` picks a free port) and serves `config`'s service there.
    pub async fn start(config: Config, addr: &str) -> Result<Server, StartError> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = build(&config, &format!("http://{addr}")).await?;
        let router = app.router.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Server {
            addr,
            task,
            stop: Some(stop),
            app: Some(app),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops taking requests, lets those in flight finish, stores pending usage, and returns
    /// once the store is closed (so another server can open the same data directory).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
    }

    /// Serves until the server fails.
    pub async fn wait(mut self) -> std::io::Result<()> {
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
