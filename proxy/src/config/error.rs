//! Configuration errors: each names the file, the YAML path, the line and column, and says
//! what was expected. Loading collects every semantic error it finds, so an operator fixes a
//! file in one pass.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::Location;

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, when the configuration came from one.
    pub file: Option<PathBuf>,
    /// YAML path of the offending value, such as `routes[2].upstream` (empty for the whole file).
    pub path: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Every problem found in one configuration file (never empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// Collects semantic errors while sections are assembled.
#[derive(Debug)]
pub(crate) struct Problems {
    file: Option<PathBuf>,
    errors: Vec<ConfigError>,
}

// === impl ConfigError ===

impl ConfigError {
    /// An error about the file as a whole (unreadable, empty).
    pub fn whole_file(file: Option<&Path>, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.map(Path::to_path_buf),
            path: String::new(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self
            .file
            .as_deref()
            .map_or_else(|| "<config>".to_string(), |p| p.display().to_string());
        write!(f, "{file}")?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

// === impl ConfigErrors ===

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

// === impl Problems ===

impl Problems {
    pub(crate) fn new(file: Option<&Path>) -> Self {
        Problems {
            file: file.map(Path::to_path_buf),
            errors: Vec::new(),
        }
    }

    /// Records that the value at `path`, found at `at`, is wrong.
    pub(crate) fn report(
        &mut self,
        path: impl fmt::Display,
        at: &Location,
        message: impl Into<String>,
    ) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            path: path.to_string(),
            line: at.line() as usize,
            column: at.column() as usize,
            message: message.into(),
        });
    }

    /// How many problems were reported so far.
    pub(crate) fn len(&self) -> usize {
        self.errors.len()
    }

    /// `Ok(value)` when nothing was reported, every report otherwise.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(self.errors))
        }
    }
}

/// Turns a serde-saphyr error met at `path` into a [`ConfigError`].
pub(crate) fn from_yaml(file: Option<&Path>, path: String, e: &serde_saphyr::Error) -> ConfigError {
    let (line, column) = e
        .location()
        .map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
    let mut message = e.without_snippet().to_string();
    // serde-saphyr prefixes its message with "error: line L column C: "; we print the
    // location ourselves, once, in the same place for every error.
    if let Some(rest) = message.strip_prefix("error: ") {
        message = rest.to_string();
    }
    if let Some(idx) = message.find(": ").filter(|_| message.starts_with("line ")) {
        message = message[idx + 2..].to_string();
    }
    if let Some(at) = message
        .rfind(" at line ")
        .filter(|i| message[*i..].contains(", column "))
    {
        message.truncate(at);
    }
    ConfigError {
        file: file.map(Path::to_path_buf),
        path: clean_path(&path),
        line,
        column,
        message,
    }
}

/// `listeners.value[0].address.value` → `listeners[0].address`: the `.value` segments are
/// the inside of `Spanned` wrappers, not YAML keys.
fn clean_path(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(i) = rest.find(".value") {
        let after = &rest[i + ".value".len()..];
        out.push_str(&rest[..i]);
        if !(after.is_empty() || after.starts_with(['.', '['])) {
            out.push_str(".value");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[test]
fn spanned_segments_are_removed_from_paths() {
    assert_eq!(
        clean_path("listeners.value[0].address.value"),
        "listeners[0].address"
    );
    assert_eq!(clean_path("routes.value[2].valuex"), "routes[2].valuex");
    assert_eq!(clean_path("."), "");
}
