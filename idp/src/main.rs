use clap::Parser;
use std::io::IsTerminal;

/// Large allocations (argon2id's 19 MiB per password check, a capture's frames) get pages
/// of their own that go back to the system when freed. glibc would otherwise raise its
/// threshold after the first such free and serve the next ones from the heap, which keeps
/// them resident for good: an idle server held every password check's memory.
fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

fn main() -> std::process::ExitCode {
    return_large_allocations();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a terminal: a log file or a collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if std::env::var("IDP_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
    let cli = idp::cli::Cli::parse();
    match idp::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("idp: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
