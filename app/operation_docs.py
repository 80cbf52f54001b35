"""Each documented operation's description in /openapi.json, keyed by its operationId (the
handler's name): what it does, who calls it, the key rule. docs/api.md has the full story."""

from __future__ import annotations

DESCRIPTIONS: dict[str, str] = {
    # accounts
    "register": "Creates a parent's account from an email address and a password. Anyone may "
                "call it; an email already registered, whatever its case, is a 409, and too "
                "many attempts from one address are throttled (429).",
    "login": "Exchanges an email and password for an account token, valid for "
             "JWT_LIFETIME_SECONDS (3600 s). Unknown email and wrong password get the same 401; "
             "10 failures for an email or from an address within 15 minutes answer 429.",
    "me": "The account the token belongs to: its email, whether it is an admin and whether "
          "it has a parental PIN. A token whose account was deleted is a 401.",
    # profiles and titles
    "list_profiles": "The signed-in parent's profiles, children's and adults', in creation "
                     "order.",
    "create_profile": "Creates a profile on the parent's account. A child profile starts with "
                      "the default config (weekdays 120 minutes, weekends 180, reset hour 6, "
                      "educational titles exempt) in the given time zone; an adult one has no "
                      "limits.",
    "delete_profile": "Deletes the profile with all its sessions, balances, grants, config and "
                      "paired devices, whose tokens stop working. Another account's profile "
                      "is a 404.",
    "upsert_titles": "Inserts or replaces up to 10,000 catalog titles in one call (bodies up to "
                     "2 MiB). Only an admin's account token may call it; when an id appears "
                     "twice the last one wins.",
    "browse_titles": "Browses the catalog in title order, or searches it by the starts of "
                     "words, one keyset page at a time. Parents and paired players both call "
                     "it; pass `next_cursor` as `cursor`, with the same `query`, for the next "
                     "page.",
    "get_title": "One catalog title, for a parent or a paired player. An unknown id is a 404.",
    # viewing time
    "heartbeat": "Sent by the player every 30 seconds while a title is open: charges the "
                 "watched time and answers what the player must do (`enforcement`). A blocked "
                 "beat is still a 200; when the time cannot be checked the answer is a "
                 "fail-closed 503 and the player must stop.",
    "end_session": "The player ends its session: the unused part of the paid window is "
                   "refunded. Ending a session that has already ended answers the same body "
                   "and changes nothing.",
    "balance": "Today's viewing-time balance of a profile, for the parent's app or the "
               "player: used, remaining and granted minutes and what the next heartbeat would "
               "answer. For an adult profile every figure is empty.",
    "playback_eligible": "Asked by the player before it starts playback: may a title start "
                         "now, and if not, why and until when. When the time cannot be checked "
                         "it fails closed (503, not eligible).",
    "create": "A child asks for more time today, from the player (device token, its own "
              "profile) or the parent's app. Refused when today is not limited or a request "
              "is already pending (409), and after three requests a viewing day (429).",
    "get": "One time request, so the player can follow its answer. A device token sees only "
           "its own profile's requests; others are a 404.",
    # PIN
    "pin_status": "Whether the account has a parental PIN and whether it is locked after "
                  "wrong answers, for the parent's app.",
    "set_pin": "Sets the account's parental PIN (4 digits), or changes it: once a PIN exists "
               "`current_pin` is required, and a wrong one counts toward the lockout (5 wrong "
               "answers lock it for 30 minutes).",
    "verify_pin": "Checks the PIN, typed by the parent in the app or on the TV, and answers a "
                  "`pin_token` valid for 5 minutes. A wrong PIN counts toward the lockout; a "
                  "locked PIN is refused even when right.",
    "reset_pin": "For a forgotten PIN: the account password sets a new PIN and clears any "
                 "lockout. Wrong passwords count with those of sign-in toward the 429.",
    # child configuration
    "get_config": "A child profile's viewing-time config: weekday and weekend limits, reset "
                  "hour, educational exemption and time zone. An adult profile is a 404.",
    "update_config": "Changes only the fields present in the body. `reset_hour` and "
                     "`educational_exempt` need a `pin_token`; `reset_hour` and `timezone` "
                     "apply from the next reset, the limits and the exemption at once.",
    "get_schedule": "A child's schedule as stored (per-weekday limits and allowed hours) and "
                    "the week it makes, each day with the limit and windows in force.",
    "put_schedule": "Replaces a child's whole schedule (a key left out is empty, `{}` clears "
                    "it); applies from the very next heartbeat. Every bad field is named at "
                    "once in the 422 and nothing is stored.",
    "grant": "Grants extra minutes, or unlimited time, for the child's current viewing day. "
             "Without `pin` or `pin_token` it is a remote grant (account token only); a "
             "device token must send one of them. Grants add up.",
    "list_grants": "The newest 500 grants of a child profile, newest first, each naming the "
                   "time request it approved, if any.",
    "history": "A child's viewing per viewing day, newest first, with its sessions: 30 days "
               "to today by default, at most 90. Each day keeps the limit in force at its "
               "end.",
    "weekly_report": "The last 7 viewing days of every child profile of the account: daily "
                     "totals, averages, limit usage and the top 3 titles.",
    "list_sessions": "Who is watching: a child's sessions, newest first, open ones by default. "
                     "Only for the parent's account token (a device token is a 403).",
    "stop_session": "The parent stops a session now; it is refunded like an end and its next "
                    "heartbeat answers 409 `session_ended` with reason `stopped_by_parent`. "
                    "Lock the profile to keep a new session from starting.",
    "lock_profile": "Locks a child profile until an instant in the future, or until unlocked "
                    "(`until: null`). While locked every heartbeat is blocked with "
                    "`locked_by_parent` and charges nothing.",
    "unlock_profile": "Removes a child profile's lock at once.",
    # webhooks
    "create_webhook": "Subscribes an https URL to events of the account's children. The "
                      "signing secret is answered only here; an account has at most 5 "
                      "subscriptions (409 beyond).",
    "list_webhooks": "The account's webhook subscriptions, oldest first, with how their latest "
                     "delivery went; never their secrets.",
    "delete_webhook": "Deletes a webhook subscription together with its events not delivered "
                      "yet. Another account's id is a 404.",
    # time requests, the parent's side
    "list_requests": "The children's time requests, newest first: the pending ones by default, "
                     "every one with `status=all`. Only for the parent's account token.",
    "decide": "The parent approves (as asked, with other minutes, or unlimited) or denies a "
              "pending time request; an approval writes the grant. A request already decided "
              "or expired is a 409.",
    # devices
    "pair": "Pairs a player with a profile and answers its device token, shown only here. "
            "The token acts for that one profile, without expiry, until the device is "
            "unpaired.",
    "list_devices": "The profile's paired devices, with when each was last seen; never their "
                    "tokens.",
    "delete_device": "Unpairs a device: its token is refused at once on the replica that "
                     "handled the delete and within about a second on the others.",
    "this_device": "The calling paired device and the profile it acts for. Takes a device "
                   "token only.",
    # operations
    "admin_metrics": "This process's heartbeat, config cache and weekly report figures, as "
                     "JSON. Only an admin's account token may call it.",
    "prometheus": "The service's metrics in the Prometheus text exposition format, for a "
                  "scraper. No token.",
    "healthz": "Liveness: answers 200 whenever the process runs, without checking the "
               "database.",
    "readyz": "Readiness: 200 when the database is reachable and migrated to head, 503 while "
              "it is not or the process is shutting down.",
    "openapi": "This OpenAPI 3.1 document of every endpoint, with request and response "
               "schemas, error bodies, the bearer schemes and examples.",
    "page": "An HTML page running Swagger UI on this document, served with its own script "
            "and style files so it works offline. \"Try it out\" sends real requests.",
}
