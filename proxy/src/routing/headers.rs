//! Header rules of a route: headers removed, then headers set, on the request sent upstream
//! or on the response sent to the client.

use pingora::http::{RequestHeader, ResponseHeader};

use crate::config::file::HeaderRulesSection;

/// Headers to remove, then headers to set (replacing any value present).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderRules {
    remove: Vec<http::HeaderName>,
    add: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl HeaderRules {
    /// Builds the rules from a route's section (names and values were checked when parsed).
    pub(crate) fn from_file(section: &HeaderRulesSection) -> HeaderRules {
        HeaderRules {
            remove: section.remove.iter().map(|n| n.0.clone()).collect(),
            add: section
                .add
                .iter()
                .map(|(n, v)| (n.0.clone(), v.0.clone()))
                .collect(),
        }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.add.is_empty()
    }

    /// Applies the rules to a request about to go upstream.
    pub fn apply_to_request(&self, req: &mut RequestHeader) -> pingora::Result<()> {
        for name in &self.remove {
            req.remove_header(name);
        }
        for (name, value) in &self.add {
            req.insert_header(name.clone(), value.clone())?;
        }
        Ok(())
    }

    /// Applies the rules to a response about to go to the client.
    pub fn apply_to_response(&self, resp: &mut ResponseHeader) -> pingora::Result<()> {
        for name in &self.remove {
            resp.remove_header(name);
        }
        for (name, value) in &self.add {
            resp.insert_header(name.clone(), value.clone())?;
        }
        Ok(())
    }
}
