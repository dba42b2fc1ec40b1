//! The benchmark's ceiling: the same HTTP stack (axum, Tokio, the same
//! security headers) with a handler that reads the JSON body and answers 201
//! without storing anything. `bench/serve.py` runs it beside `cxscore serve`.
//!
//! `cargo run --release -p cx-server --example ceiling -- 127.0.0.1:8090`

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;

async fn accept(body: bytes::Bytes) -> (StatusCode, &'static str) {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(_) => (StatusCode::CREATED, "{\"id\":0,\"duplicate\":false}"),
        Err(_) => (StatusCode::BAD_REQUEST, "{}"),
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            println!("ceiling serving http://{}", listener.local_addr()?);
            let app = Router::new()
                .route("/api/v1/surveys/{id}/responses", post(accept))
                .layer(axum::middleware::map_response(cx_server::security_headers));
            axum::serve(listener, app).await
        })
}
