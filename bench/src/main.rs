//! The `whisperengine-bench` executable: settings loaded exactly as the host loads them, then the
//! benchmark [`whisperengine_bench::run`] (`whisperengine bench …` runs this with the same
//! arguments and `--host-binary` set to itself).

use clap::Parser;

/// WhisperEngine's benchmark: raw writes, the full pipeline and retrieval on the configured database,
/// or (`--load`) host processes under load from the outside.
#[derive(Debug, Parser)]
#[command(name = "whisperengine-bench", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    args: whisperengine_bench::BenchArgs,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let settings = match whisperengine::config::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("configuration error: {error}");
            std::process::exit(2);
        }
    };
    whisperengine::telemetry::init_tracing("warn");
    // Every sample of the pipeline's steps, for the per-step breakdown (this process serves no
    // /metrics, so nothing else records them).
    whisperengine_bench::steps::install();
    let code = match whisperengine_bench::run(settings, cli.args).await {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error:#}");
            1
        }
    };
    std::process::exit(code);
}
