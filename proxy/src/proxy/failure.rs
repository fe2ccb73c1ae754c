//! Classification of Pingora errors: which answer the client gets, and which upstream failure
//! is counted. Connect-phase failures are counted by `fail_to_connect`, once per attempt.

use pingora::{Error, ErrorSource, ErrorType};

use crate::metrics::UpstreamError;
use crate::pages::Rejection;

/// What a failed request turns into.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Outcome {
    /// The answer to send; `None` when the client is gone.
    pub(super) rejection: Option<Rejection>,
    /// The upstream failure to count, if this is one (and not a connect failure).
    pub(super) upstream_error: Option<UpstreamError>,
}

/// Whether the error is a timeout (connecting, TLS handshake, reading or writing).
pub(super) fn is_timeout(e: &Error) -> bool {
    matches!(
        e.etype(),
        ErrorType::ConnectTimedout
            | ErrorType::TLSHandshakeTimedout
            | ErrorType::ReadTimedout
            | ErrorType::WriteTimedout
    )
}

/// Classifies `e`; `prior` is the answer a phase already decided on (it wins).
pub(super) fn classify(e: &Error, prior: Option<&Rejection>) -> Outcome {
    use ErrorType::*;
    let out = |rejection, upstream_error| Outcome {
        rejection,
        upstream_error,
    };
    if let Some(r) = prior {
        return out(Some(r.clone()), None);
    }
    match (e.esource(), e.etype()) {
        (_, HTTPStatus(503)) => out(Some(Rejection::NoHealthyBackend), None),
        (_, HTTPStatus(400)) => out(Some(Rejection::BadRequest), None),
        (_, HTTPStatus(_)) => out(Some(Rejection::Internal), None),
        (ErrorSource::Upstream, ReadTimedout | WriteTimedout) => out(
            Some(Rejection::UpstreamTimeout),
            Some(UpstreamError::Timeout),
        ),
        (ErrorSource::Upstream, _) if is_timeout(e) => out(Some(Rejection::UpstreamTimeout), None),
        (
            ErrorSource::Upstream,
            ReadError | WriteError | ConnectionClosed | H1Error | H2Error | InvalidHTTPHeader
            | InvalidH2,
        ) => out(
            Some(Rejection::UpstreamUnreachable),
            Some(UpstreamError::Protocol),
        ),
        (ErrorSource::Upstream, _) => out(Some(Rejection::UpstreamUnreachable), None),
        (ErrorSource::Downstream, ReadTimedout) => out(Some(Rejection::ClientTooSlow), None),
        // The client is gone: nothing can be sent.
        (ErrorSource::Downstream, ReadError | WriteError | ConnectionClosed | WriteTimedout) => {
            out(None, None)
        }
        (ErrorSource::Downstream, _) => out(Some(Rejection::BadRequest), None),
        (ErrorSource::Internal | ErrorSource::Unset, _) => out(Some(Rejection::Internal), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(source: ErrorSource, etype: ErrorType) -> Box<Error> {
        let mut e = Error::new(etype);
        e.esource = source;
        e
    }

    #[test]
    fn upstream_failures_map_to_502_and_504() {
        let c = classify(&err(ErrorSource::Upstream, ErrorType::ConnectRefused), None);
        assert_eq!(
            c,
            Outcome {
                rejection: Some(Rejection::UpstreamUnreachable),
                upstream_error: None
            }
        );
        let c = classify(&err(ErrorSource::Upstream, ErrorType::ReadTimedout), None);
        assert_eq!(c.rejection.as_ref().map(Rejection::status), Some(504));
        assert_eq!(c.upstream_error, Some(UpstreamError::Timeout));
        let c = classify(
            &err(ErrorSource::Upstream, ErrorType::ConnectTimedout),
            None,
        );
        assert_eq!(c.rejection.as_ref().map(Rejection::status), Some(504));
        let c = classify(
            &err(ErrorSource::Upstream, ErrorType::ConnectionClosed),
            None,
        );
        assert_eq!(c.rejection.as_ref().map(Rejection::status), Some(502));
    }

    #[test]
    fn gone_clients_get_nothing_and_prior_decisions_win() {
        assert_eq!(
            classify(&err(ErrorSource::Downstream, ErrorType::WriteError), None).rejection,
            None
        );
        let c = classify(
            &err(ErrorSource::Upstream, ErrorType::HTTPStatus(503)),
            Some(&Rejection::NoHealthyBackend),
        );
        assert_eq!(c.rejection, Some(Rejection::NoHealthyBackend));
        assert_eq!(
            classify(&err(ErrorSource::Downstream, ErrorType::ReadTimedout), None)
                .rejection
                .as_ref()
                .map(Rejection::status),
            Some(408)
        );
    }
}
