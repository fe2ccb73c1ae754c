//! The fleet's queue in the sessions' Redis: [`super::Room`]'s machine as one Lua script
//! (`room.lua`), so every node of a fleet reads and moves one queue atomically.

use super::{Answer, Params};
use crate::sessions::{RedisStore, StoreError};

const SCRIPT: &str = include_str!("room.lua");
/// Idle rooms disappear from Redis after a day.
const KEY_TTL_MS: u64 = 24 * 3600 * 1000;

/// The Redis keys of one provider's room (one hash slot).
pub(super) struct SharedRoom {
    keys: [String; 3],
}

impl SharedRoom {
    /// The room of `provider` under the store's key prefix.
    pub(super) fn new(redis: &RedisStore, provider: &str) -> SharedRoom {
        let base = format!("{}{{waiting:{provider}}}", redis.key_prefix());
        SharedRoom {
            keys: [
                format!("{base}:state"),
                format!("{base}:tickets"),
                format!("{base}:deadlines"),
            ],
        }
    }

    /// [`super::Room::enter`], in Redis.
    pub(super) async fn enter(
        &self,
        redis: &RedisStore,
        p: &Params,
        now: u64,
    ) -> Result<Answer, StoreError> {
        let answer = self.run(redis, "enter", p, now, 0).await?;
        answer.ok_or_else(|| StoreError("the waiting room script lost a new ticket".into()))
    }

    /// [`super::Room::poll`], in Redis.
    pub(super) async fn poll(
        &self,
        redis: &RedisStore,
        p: &Params,
        ticket: u64,
        now: u64,
    ) -> Result<Option<Answer>, StoreError> {
        self.run(redis, "poll", p, now, ticket).await
    }

    async fn run(
        &self,
        redis: &RedisStore,
        op: &str,
        p: &Params,
        now: u64,
        ticket: u64,
    ) -> Result<Option<Answer>, StoreError> {
        let args = [
            op.to_string(),
            now.to_string(),
            format!("{:.12}", p.rate_per_ms),
            p.burst.to_string(),
            p.ttl_ms.to_string(),
            ticket.to_string(),
            KEY_TTL_MS.max(p.ttl_ms * 4).to_string(),
            p.capacity.to_string(),
        ];
        let reply = redis
            .eval("waiting_room", SCRIPT, &self.keys, &args)
            .await?;
        let (kind, ticket, ahead) = match reply[..] {
            [kind, ticket, ahead] => (kind, ticket, ahead),
            _ => {
                return Err(StoreError(format!(
                    "waiting room script answered {reply:?}"
                )));
            }
        };
        Ok(match kind {
            1 => Some(Answer::Admitted),
            2 => Some(Answer::Waiting {
                ticket: ticket.max(0) as u64,
                ahead: ahead.max(0) as u64,
            }),
            3 => Some(Answer::Full),
            _ => None,
        })
    }
}
