//! The French words of every answer Vigie gives on its own.

use super::{Challenge, LoginFailure, Rejection};
use crate::routing::PathError;

/// What a page says: its slug (the problem type), title, lead and what to do.
pub(super) struct Text {
    pub(super) slug: &'static str,
    pub(super) title: &'static str,
    pub(super) lead: &'static str,
    pub(super) detail: &'static str,
}

impl Rejection {
    pub(super) fn text(&self) -> Text {
        let t = |slug, title, lead, detail| Text {
            slug,
            title,
            lead,
            detail,
        };
        match self {
            Rejection::NoRoute => t(
                "page-introuvable",
                "Page non trouvée",
                "La page que vous cherchez est introuvable. Excusez-nous pour la gêne occasionnée.",
                "Si vous avez saisi l'adresse dans votre navigateur, vérifiez qu'elle est correcte.",
            ),
            Rejection::BadPath(e) => t(
                "adresse-invalide",
                "Adresse invalide",
                "L'adresse demandée n'est pas valide.",
                path_error_fr(*e),
            ),
            Rejection::BadRequest => t(
                "requete-invalide",
                "Requête invalide",
                "Votre navigateur a envoyé une requête que le service ne peut pas lire.",
                "Veuillez réessayer. Si le problème persiste, videz le cache de votre navigateur.",
            ),
            Rejection::NoHealthyBackend => t(
                "service-indisponible",
                "Service momentanément indisponible",
                "Le service demandé est temporairement indisponible.",
                "Nos équipes sont mobilisées. Veuillez réessayer dans quelques minutes.",
            ),
            Rejection::UpstreamUnreachable => t(
                "service-injoignable",
                "Service injoignable",
                "Le service demandé ne répond pas correctement.",
                "Veuillez réessayer dans quelques instants.",
            ),
            Rejection::UpstreamTimeout => t(
                "delai-depasse",
                "Le service met trop de temps à répondre",
                "Le service demandé n'a pas répondu à temps.",
                "Veuillez réessayer dans quelques instants.",
            ),
            Rejection::HeadTooLarge => t(
                "requete-trop-volumineuse",
                "Requête trop volumineuse",
                "Votre navigateur a envoyé trop d'informations pour cette page.",
                "Cela vient souvent de cookies trop nombreux : supprimez les cookies de ce site puis réessayez.",
            ),
            Rejection::BodyTooLarge => t(
                "requete-trop-volumineuse",
                "Requête trop volumineuse",
                "Votre navigateur a envoyé plus de données que ce service n'en accepte.",
                "Recommencez depuis la page de connexion ; si cela se reproduit, contactez l'assistance.",
            ),
            Rejection::ClientTooSlow => t(
                "requete-trop-lente",
                "Délai de requête dépassé",
                "Votre navigateur a mis trop de temps à envoyer sa requête.",
                "Vérifiez votre connexion puis réessayez.",
            ),
            Rejection::Unauthenticated(Challenge::InsufficientAcr(_)) => t(
                "authentification-insuffisante",
                "Authentification renforcée requise",
                "Ce service demande un niveau d'authentification plus élevé.",
                "Identifiez-vous avec un moyen d'authentification plus fort, puis réessayez.",
            ),
            Rejection::Unauthenticated(_) => t(
                "authentification-requise",
                "Authentification requise",
                "Vous devez vous identifier pour accéder à ce service.",
                "Votre session a peut-être expiré : identifiez-vous de nouveau, puis réessayez.",
            ),
            Rejection::Forbidden => t(
                "acces-refuse",
                "Accès refusé",
                "Votre profil ne permet pas d'accéder à ce service.",
                "Si vous pensez qu'il s'agit d'une erreur, contactez votre établissement.",
            ),
            Rejection::LoginRequired(_) => t(
                "connexion-requise",
                "Connexion requise",
                "Vous devez vous connecter pour accéder à ce service.",
                "Vous allez être dirigé vers la page de connexion.",
            ),
            Rejection::SessionStoreUnavailable => t(
                "sessions-indisponibles",
                "Service momentanément indisponible",
                "Nous ne pouvons pas vérifier votre connexion pour le moment.",
                "Vos données ne sont pas perdues. Veuillez réessayer dans quelques instants.",
            ),
            Rejection::LoginFailed(LoginFailure::Cancelled) => t(
                "connexion-annulee",
                "Connexion annulée",
                "La connexion a été annulée ou refusée par le service d'identification.",
                "Vous pouvez recommencer depuis la page de connexion.",
            ),
            Rejection::LoginFailed(LoginFailure::Expired) => t(
                "connexion-expiree",
                "Demande expirée",
                "La demande a expiré ou n'a pas été faite depuis ce navigateur.",
                "Recommencez depuis la page de connexion.",
            ),
            Rejection::LoginFailed(LoginFailure::Unavailable) => t(
                "identification-indisponible",
                "Service d'identification indisponible",
                "Le service d'identification ne répond pas pour le moment.",
                "Veuillez réessayer dans quelques instants.",
            ),
            Rejection::LoginFailed(LoginFailure::Unverifiable) => t(
                "connexion-non-verifiee",
                "Connexion impossible",
                "La réponse du service d'identification n'a pas pu être vérifiée.",
                "Recommencez depuis la page de connexion. Si le problème persiste, contactez l'assistance.",
            ),
            Rejection::RateLimited(_) => t(
                "trop-de-requetes",
                "Trop de demandes",
                "Vous avez envoyé trop de demandes en peu de temps.",
                "Patientez quelques secondes avant de réessayer : la page sera de nouveau accessible.",
            ),
            Rejection::Overloaded => t(
                "service-sature",
                "Service très sollicité",
                "Le service reçoit actuellement un très grand nombre de demandes.",
                "Vos données ne sont pas perdues. Veuillez réessayer dans quelques instants.",
            ),
            Rejection::PluginFailed => t(
                "controle-indisponible",
                "Service momentanément indisponible",
                "Un contrôle d'accès de ce service ne répond pas pour le moment.",
                "Vos données ne sont pas perdues. Veuillez réessayer dans quelques instants.",
            ),
            Rejection::Internal => t(
                "erreur-interne",
                "Erreur inattendue",
                "Une erreur inattendue est survenue.",
                "Veuillez réessayer dans quelques instants.",
            ),
        }
    }
}

fn path_error_fr(e: PathError) -> &'static str {
    match e {
        PathError::NotAbsolute => "Le chemin de l'adresse doit commencer par « / ».",
        PathError::DotSegment => "Le chemin de l'adresse contient un segment « . » ou « .. ».",
        PathError::EncodedSeparator => {
            "Le chemin de l'adresse contient un caractère encodé interdit (« / », « \\ », « . » ou nul)."
        }
        PathError::Backslash => "Le chemin de l'adresse contient une barre oblique inversée.",
    }
}
