//! Logout: the confirmation page with its CSRF token, ending the session everywhere, then
//! the provider's own logout (OpenID Connect `end_session`, or SAML single logout and
//! ÉduConnect's logout URL), and the page where providers send the browser back.

use std::sync::Arc;

use super::{
    LoginRequest, LoginService, LoginSpec, origin_of, page, redirect, store_unavailable, with_query,
};
use crate::pages::{LoginFailure, Page, Rejection};
use crate::reload::Generation;
use crate::sessions::{SessionId, SessionRecord, cookie};

impl LoginService {
    /// The confirmation page, with a CSRF token bound to the session.
    pub(super) async fn logout_page(
        &self,
        generation: &Generation,
        req: &LoginRequest<'_>,
    ) -> Result<Page, Rejection> {
        Ok(match self.current(req).await? {
            Some((id, record)) => page::logout(
                "Déconnexion",
                "Voulez-vous vous déconnecter de tous les services en ligne ?",
                Some(self.sessions.sealer.seal("csrf", id.as_str().as_bytes())),
                self.end_session_origin(generation, &record)
                    .await
                    .as_deref(),
            ),
            None => page::logout("Déconnexion", "Vous n'êtes pas connecté.", None, None),
        })
    }

    /// Ends the session everywhere, then the provider's session.
    pub(super) async fn logout(
        &self,
        generation: &Generation,
        req: &LoginRequest<'_>,
        origin: &str,
    ) -> Result<Page, Rejection> {
        let id = cookie::get(&req.head.headers, cookie::SESSION).and_then(SessionId::parse);
        let csrf = form_urlencoded::parse(req.body)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned());
        let genuine = match (&id, csrf) {
            (Some(id), Some(token)) => self
                .sessions
                .sealer
                .open("csrf", &token)
                .is_some_and(|v| v == id.as_str().as_bytes()),
            _ => false,
        };
        let Some(id) = id.filter(|_| genuine) else {
            return Err(Rejection::BadRequest);
        };
        let record = self.current(req).await?.map(|(_, record)| record);
        self.end(&id).await?;
        let mut cookies = vec![cookie::clear(cookie::SESSION)];
        let next = match &record {
            Some(r) if r.saml.is_some() => self.saml_logout(generation, r),
            Some(r) => self
                .end_session_url(generation, r, origin)
                .await
                .map(|(url, state)| {
                    let sealed = self.sessions.sealer.seal("logout", state.as_bytes());
                    let age = Some(std::time::Duration::from_secs(600));
                    (url, Some(cookie::set(cookie::LOGOUT, &sealed, age)))
                }),
            None => None,
        };
        let location = match next {
            Some((url, cookie)) => {
                cookies.extend(cookie);
                url
            }
            None => "/vigie/logged-out".to_string(),
        };
        Ok(redirect(&location, cookies))
    }

    /// The provider's `end_session` URL with `id_token_hint`, `post_logout_redirect_uri` and
    /// a fresh `state`, when the provider supports it.
    async fn end_session_url(
        &self,
        generation: &Generation,
        record: &SessionRecord,
        origin: &str,
    ) -> Option<(String, String)> {
        let provider = generation.auth.providers.get(&*record.identity.provider)?;
        let login = provider.spec.login.as_ref()?;
        let back = LoginSpec::absolute(login.post_logout_redirect_uri.as_deref()?, origin);
        let id_token = record.id_token.as_deref()?;
        let metadata = provider.discovery.metadata().await.ok()?;
        let endpoint = metadata.end_session_endpoint.as_deref()?;
        let state = SessionId::generate().as_str().to_string();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", id_token)
            .append_pair("post_logout_redirect_uri", &back)
            .append_pair("state", &state)
            .finish();
        Some((with_query(endpoint, &query), state))
    }

    /// Back from the provider's logout: its `state` must be the one sent.
    pub(super) fn logged_out(&self, req: &LoginRequest<'_>, state: Option<&str>) -> Page {
        let expected = cookie::get(&req.head.headers, cookie::LOGOUT)
            .and_then(|c| self.sessions.sealer.open("logout", c));
        let mut page = match (state, expected) {
            (None, None) => page::logout(
                "Vous êtes déconnecté",
                "Votre session est terminée.",
                None,
                None,
            ),
            (Some(s), Some(e)) if s.as_bytes() == e.as_slice() => page::logout(
                "Vous êtes déconnecté",
                "Votre session est terminée, y compris auprès de votre fournisseur d'identité.",
                None,
                None,
            ),
            _ => {
                Rejection::LoginFailed(LoginFailure::Expired).render(req.request_id, req.wants_json)
            }
        };
        page.headers
            .push(("set-cookie", cookie::clear(cookie::LOGOUT)));
        page
    }

    /// Ends session `id` everywhere.
    pub(super) async fn end(&self, id: &SessionId) -> Result<(), Rejection> {
        self.sessions
            .store
            .delete(id)
            .await
            .map_err(store_unavailable)?;
        self.metrics.logout();
        Ok(())
    }

    /// The session of the request, if it names a live one.
    pub(super) async fn current(
        &self,
        req: &LoginRequest<'_>,
    ) -> Result<Option<(SessionId, Arc<SessionRecord>)>, Rejection> {
        let Some(id) = cookie::get(&req.head.headers, cookie::SESSION).and_then(SessionId::parse)
        else {
            return Ok(None);
        };
        let record = self
            .sessions
            .store
            .get(&id)
            .await
            .map_err(store_unavailable)?;
        Ok(record.map(|r| (id, r)))
    }

    /// `scheme://host[:port]` of where logout continues at the provider, if anywhere.
    pub(super) async fn end_session_origin(
        &self,
        generation: &Generation,
        record: &SessionRecord,
    ) -> Option<String> {
        if record.saml.is_some() {
            return self
                .saml_logout(generation, record)
                .and_then(|(url, _)| origin_of(&url));
        }
        let provider = generation.auth.providers.get(&*record.identity.provider)?;
        provider.spec.login.as_ref()?;
        let metadata = provider.discovery.metadata().await.ok()?;
        origin_of(metadata.end_session_endpoint.as_deref()?)
    }
}
