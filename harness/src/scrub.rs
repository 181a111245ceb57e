//! Keeping secrets out of everything the harness writes.
//!
//! A [`Scrubber`] knows every secret of a scenario (seeded secret keys and session tokens,
//! SecretIDs and bearer tokens seen by the tap). Client output passes through [`Scrubber::scrub`]
//! before it reaches an event or a report, and `expect_no_secrets` steps use
//! [`Scrubber::find`] to prove a text holds none.

use iamconform_secret::Secret;

/// Secrets shorter than this are not scanned for: they would match innocent text, and no real
/// secret is this short.
const MIN_LEN: usize = 8;

/// Replaces known secrets in text.
#[derive(Debug, Default, Clone)]
pub struct Scrubber {
    secrets: Vec<(String, Secret<String>)>,
}

impl Scrubber {
    /// Adds a secret under a label that says what it is (the label, never the value, is shown).
    pub fn add(&mut self, label: impl Into<String>, secret: Secret<String>) {
        if secret.expose().len() >= MIN_LEN
            && !self
                .secrets
                .iter()
                .any(|(_, s)| s.expose() == secret.expose())
        {
            self.secrets.push((label.into(), secret));
        }
    }

    /// Text with every known secret replaced by `<redacted:LABEL>`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (label, secret) in &self.secrets {
            if out.contains(secret.expose().as_str()) {
                out = out.replace(secret.expose().as_str(), &format!("<redacted:{label}>"));
            }
        }
        out
    }

    /// Labels of the secrets that occur in `text`.
    pub fn find(&self, text: &str) -> Vec<String> {
        self.secrets
            .iter()
            .filter(|(_, s)| text.contains(s.expose().as_str()))
            .map(|(l, _)| l.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_and_finds() {
        let mut s = Scrubber::default();
        s.add(
            "secret key of AKIA1",
            Secret::new("wJalrXUtnFEMIEXAMPLE".to_string()),
        );
        s.add("short", Secret::new("abc".to_string()));
        let text = "error: key wJalrXUtnFEMIEXAMPLE rejected; abc";
        assert_eq!(
            s.scrub(text),
            "error: key <redacted:secret key of AKIA1> rejected; abc"
        );
        assert_eq!(s.find(text), ["secret key of AKIA1"]);
        assert!(s.find("clean").is_empty());
    }
}
