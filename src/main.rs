//! The `fedflattr` binary: everything happens in the library's `cli` module.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    fedflattr::cli::main().await
}
