//! The `whisperengine` binary: parses the command line and hands over to [`whisperengine::cli`].

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = whisperengine::cli::Cli::parse();
    let code = match whisperengine::cli::run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            1
        }
    };
    std::process::exit(code);
}
