//! The serde mirror of `identity_providers:`, `identity:` and each route's `access:`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::SamlSection;
use crate::config::values::{ByteSize, Duration};

/// One entry of `identity_providers:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    /// `oidc`, or `saml` (then only `saml:` is given).
    pub kind: Spanned<ProviderKind>,
    /// Issuer identifier, compared exactly with each token's `iss` (oidc).
    pub issuer: Option<Spanned<String>>,
    /// Where the signing keys are; absent means OpenID discovery at
    /// `{issuer}/.well-known/openid-configuration`.
    pub jwks_uri: Option<Spanned<String>>,
    /// Audiences accepted in `aud` (oidc; at least one).
    pub audiences: Option<Spanned<Vec<String>>>,
    /// Signature algorithms accepted (default ES256 and RS256).
    pub algorithms: Option<Spanned<Vec<Spanned<String>>>>,
    /// Clock skew allowed on `exp`, `nbf` and `iat` (default 30s).
    pub leeway: Option<Duration>,
    /// Largest token accepted (default 8KiB).
    pub max_token_size: Option<ByteSize>,
    /// PEM bundle of CAs trusted for discovery and JWKS (default: the system's roots).
    pub ca_file: Option<Spanned<PathBuf>>,
    /// Key fetching and caching.
    #[serde(default)]
    pub keys: KeysSection,
    /// How claims become the identity.
    #[serde(default)]
    pub claims: ClaimsSection,
    /// Present when people log in with this provider from the login page.
    pub login: Option<LoginSection>,
    /// Vigie as a SAML service provider of this IdP (kind `saml`).
    pub saml: Option<SamlSection>,
    /// Queue newcomers when logins arrive faster than the provider should receive them.
    pub waiting_room: Option<Spanned<super::WaitingRoomSection>>,
}

/// `identity_providers.NAME.login:` (OpenID Connect authorization code flow with PKCE).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSection {
    /// Client id registered at the provider.
    pub client_id: String,
    /// How Vigie authenticates at the token endpoint (default `client_secret_post`).
    pub token_auth: Option<TokenAuth>,
    /// File holding the client secret (`client_secret_post` and `client_secret_basic`).
    pub client_secret_file: Option<Spanned<PathBuf>>,
    /// PEM private key signing the client assertion (`private_key_jwt`; ES256 or RS256).
    pub private_key_file: Option<Spanned<PathBuf>>,
    /// The callback registered at the provider: `https://HOST/vigie/callback/NAME`.
    pub redirect_uri: Spanned<String>,
    /// Where the provider sends the browser after logout: `https://HOST/vigie/logged-out`.
    pub post_logout_redirect_uri: Option<Spanned<String>>,
    /// Scopes asked (default `openid`).
    pub scope: Option<String>,
    /// `acr_values` asked; the returned `acr` must be at least as strong (FranceConnect: eidas1).
    pub acr_values: Option<Spanned<String>>,
    /// How userinfo answers: `jwt` (signed, required for FranceConnect), `json`, or `none`
    /// to skip the call (default `jwt`).
    pub userinfo: Option<UserinfoFormat>,
    /// Name shown on the login page.
    pub label: Option<String>,
    /// Button style: `franceconnect` (the official one) or `standard` (default).
    pub button: Option<ButtonStyle>,
    /// Profiles the login page offers this provider to (e.g. FranceConnect: responsable).
    pub offered_to: Spanned<Vec<String>>,
    /// Profile given to people of this provider when its claims carry none
    /// (FranceConnect: responsable, only legal guardians use it).
    pub default_profile: Option<String>,
}

/// Client authentication at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuth {
    /// `client_id` and `client_secret` in the form.
    ClientSecretPost,
    /// HTTP Basic with the client id and secret.
    ClientSecretBasic,
    /// A signed JWT client assertion (RFC 7523).
    PrivateKeyJwt,
}

/// Format of the userinfo answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserinfoFormat {
    /// `application/jwt`, signed with the provider's keys.
    Jwt,
    /// Plain JSON.
    Json,
    /// Not called.
    None,
}

/// How a provider's login button looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonStyle {
    /// The official FranceConnect button, its explanation link and the "ou" separator.
    Franceconnect,
    /// A plain button with the provider's label.
    Standard,
}

/// Kinds of identity provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenID Connect (tokens are JWTs signed with keys from a JWKS).
    Oidc,
    /// SAML 2.0 (browser logins only: ÉduConnect).
    Saml,
}

/// `identity_providers.NAME.keys:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysSection {
    /// Shortest freshness granted to fetched keys, whatever Cache-Control says (default 5m).
    pub min_refresh: Option<Duration>,
    /// Longest freshness (default 1h).
    pub max_refresh: Option<Duration>,
    /// At most one refetch per this interval is triggered by tokens with an unknown `kid` (default 1m).
    pub unknown_kid_interval: Option<Duration>,
    /// Time a fetch may take (default 5s).
    pub timeout: Option<Duration>,
}

/// `identity_providers.NAME.claims:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsSection {
    /// Claim holding the subject (default `sub`).
    pub subject: Option<String>,
    /// Claim holding the profile, and how its values map to Vigie's profiles.
    pub profile: Option<ProfileClaimSection>,
    /// Claim holding the display name (default `name`).
    pub display_name: Option<String>,
    /// Claim holding the school ids (UAI), a string or a list.
    pub school_ids: Option<String>,
    /// Claim holding the children's ids, a string or a list.
    pub children_ids: Option<String>,
    /// Claim holding the authentication context class (default `acr`).
    pub acr: Option<String>,
}

/// `claims.profile:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileClaimSection {
    /// The claim read.
    pub claim: String,
    /// A predefined mapping: `educonnect` (eleve1d|eleve2d → eleve, resp1d|resp2d → responsable).
    pub mapping: Option<ProfileMapping>,
    /// An explicit mapping from claim values to profiles (applied after `mapping`).
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

/// Predefined profile mappings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileMapping {
    /// ÉduConnect's `FrEduCtPersonAffiliation` values.
    Educonnect,
}

/// `identity:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    /// Prefix of the identity headers Vigie sends upstream; client-sent headers with it are
    /// always removed (default `X-Vigie-`).
    pub header_prefix: Option<Spanned<String>>,
    /// More client-sent headers to remove from every request (e.g. `X-Remote-User`).
    #[serde(default)]
    pub strip_headers: Vec<crate::config::values::HeaderName>,
    /// Order of `acr` values, weakest first (default eidas1, eidas2, eidas3).
    pub acr_order: Option<Vec<String>>,
    /// The signed identity assertion sent to upstreams.
    pub assertion: Option<AssertionSection>,
    /// Verified-token cache.
    #[serde(default)]
    pub token_cache: TokenCacheSection,
}

/// `identity.assertion:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionSection {
    /// `iss` of the assertions.
    pub issuer: String,
    /// ES256 private key (PEM, PKCS#8) that signs assertions.
    pub signing_key: Spanned<PathBuf>,
    /// The next key, published in the JWKS before it signs (rotation).
    pub next_signing_key: Option<Spanned<PathBuf>>,
    /// Lifetime of an assertion (default 60s).
    pub lifetime: Option<Duration>,
}

/// `identity.token_cache:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenCacheSection {
    /// On by default.
    pub enabled: Option<bool>,
    /// Memory bound (default 64MiB).
    pub max_size: Option<ByteSize>,
    /// Longest time a verified token is trusted without a new check (default 5m; never past `exp`).
    pub max_ttl: Option<Duration>,
}

/// A route's `access:`: `public`, or who may enter.
#[derive(Debug)]
pub enum AccessSection {
    /// Anyone.
    Public,
    /// Only authenticated requests.
    Protected(ProtectedSection),
}

/// `access:` when the route is not public.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectedSection {
    /// Identity providers whose bearer tokens are accepted.
    #[serde(default)]
    pub bearer: Vec<Spanned<String>>,
    /// Whether a login session is accepted (browsers without one are sent to the login page).
    #[serde(default)]
    pub session: bool,
    /// Profiles allowed (default: any).
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Weakest `acr` accepted (needs `identity.acr_order`).
    pub min_acr: Option<Spanned<String>>,
    /// Identity headers sent upstream (default: all of them).
    pub identity_headers: Option<Vec<IdentityHeader>>,
    /// Whether the signed assertion is sent upstream (default: when `identity.assertion` is set).
    pub assertion: Option<bool>,
}

/// Identity headers a route may send upstream (named after the `identity.header_prefix`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityHeader {
    /// `X-Vigie-Subject`
    Subject,
    /// `X-Vigie-Issuer`: the identity provider's name in the config.
    Issuer,
    /// `X-Vigie-Profile`
    Profile,
    /// `X-Vigie-Name`, percent-encoded UTF-8.
    DisplayName,
    /// `X-Vigie-School-Ids`, comma-separated.
    SchoolIds,
    /// `X-Vigie-Children-Ids`, comma-separated.
    ChildrenIds,
    /// `X-Vigie-Acr`
    Acr,
    /// `X-Vigie-Ine-Hash`: hash of a pupil's INE (ÉduConnect).
    IneHash,
    /// `X-Vigie-Level`: a pupil's school level code (ÉduConnect).
    Level,
    /// `X-Vigie-Birth-Date`: `YYYY-MM-DD` (ÉduConnect).
    BirthDate,
}

impl<'de> Deserialize<'de> for AccessSection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AccessSection;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`public`, or a mapping with `bearer`, `profiles`, `min_acr`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AccessSection, E> {
                match v {
                    "public" => Ok(AccessSection::Public),
                    other => Err(E::custom(format!(
                        "invalid access {other:?}: expected `public` or a mapping such as `{{ bearer: [franceconnect] }}`"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AccessSection, A::Error> {
                ProtectedSection::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(AccessSection::Protected)
            }
        }
        d.deserialize_any(V)
    }
}
