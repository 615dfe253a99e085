//! Command-line conventions shared by `en-server` and `en-sim`: a malformed command line is a
//! one-line error and exit status 2; `--help` and `--version` print and exit 0; an error while
//! running is one line on stderr and exit status 1.

use std::process::ExitCode;

/// Parses the command line, or returns the exit code after printing help or a one-line error.
pub fn parse<T: clap::Parser>() -> Result<T, ExitCode> {
    T::try_parse().map_err(|e| {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = e.print();
                ExitCode::SUCCESS
            }
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = e.print();
                ExitCode::from(2)
            }
            _ => {
                eprintln!(
                    "{}",
                    e.to_string()
                        .lines()
                        .next()
                        .unwrap_or("error: invalid arguments")
                );
                ExitCode::from(2)
            }
        }
    })
}

/// Prints a run-time error (with its chain of causes) as one line and returns exit status 1.
pub fn fail(e: &(dyn std::error::Error + 'static)) -> ExitCode {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !line.contains(&s) {
            line.push_str(": ");
            line.push_str(&s);
        }
        cause = c.source();
    }
    eprintln!("error: {}", line.replace('\n', " "));
    ExitCode::FAILURE
}
