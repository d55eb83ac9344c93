//! Diagnostics on stderr: `homeostat: warning: …` lines for people, or
//! one JSON object per line for a batch job's log collector.

use homeostat::app::cli::LogFormat;

/// `homeostat: warning: …` lines for people (warnings and errors only), or
/// JSON objects for a log collector (with the runs' summaries too).
pub(crate) fn init_logs(format: LogFormat) {
    let builder = tracing_subscriber::fmt().with_writer(|| LogWriter);
    match format {
        LogFormat::Text => builder
            .with_max_level(tracing::Level::WARN)
            .event_format(PlainLog)
            .init(),
        LogFormat::Json => builder
            .with_max_level(tracing::Level::INFO)
            .json()
            .flatten_event(true)
            .init(),
    }
}

/// `homeostat: warning: message key=value`: the CLI's diagnostics as they
/// read before logs went through tracing.
struct PlainLog;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for PlainLog
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error: ",
            tracing::Level::WARN => "warning: ",
            _ => "",
        };
        // The message only: it names the workload already; the fields
        // are for the JSON logs.
        let mut message = Message(String::new());
        event.record(&mut message);
        writeln!(writer, "homeostat: {level}{}", message.0)
    }
}

/// The `message` field of an event.
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

/// Standard error for the logs, with the progress bars (if any) lifted
/// while a line is written, so that lines and bars do not garble each other.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        homeostat::app::run::Progress::suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
