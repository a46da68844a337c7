import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit
import StripeKit

/// The SQL of connections, OAuth states and queueing syncs.
enum ConnectQueries {
    struct Queued: ResponseCodable, Equatable { var queued: Int }

    /// Marks the state's nonce used; false when it was used before, expired, or belongs to someone else.
    static func consume(_ state: ConnectState, postgres: PostgresClient, logger: Logger) async throws -> Bool {
        for try await _ in try await postgres.query(
            """
            UPDATE sync.oauth_states SET used_at = now()
            WHERE nonce = \(state.nonce) AND user_id = \(state.userID) AND used_at IS NULL AND expires_at > now() RETURNING nonce
            """,
            logger: logger
        ) { return true }
        return false
    }

    /// Stores (or refreshes) the connection and queues its first sync, in one transaction. An account another user
    /// has connected is refused.
    static func store(
        userID: String,
        account: Account,
        grant: ConnectRoutes.TokenGrant,
        accessCiphertext: String,
        refreshCiphertext: String?,
        keyID: String,
        postgres: PostgresClient,
        logger: Logger
    ) async throws {
        try await postgres.withTransaction(logger: logger) { connection in
            var connectionID: UUID?
            for try await (id, owner, active) in try await connection.query(
                "SELECT id, user_id, active FROM sync.stripe_connections WHERE stripe_account_id = \(account.id) FOR UPDATE",
                logger: logger
            ).decode((UUID, String, Bool).self) {
                if owner != userID && active {
                    throw APIError(.conflict, "account_already_connected", "this Stripe account is connected by another user")
                }
                connectionID = id
            }
            let id = connectionID ?? UUID()
            try await connection.query(
                """
                INSERT INTO sync.stripe_connections (
                    id, user_id, stripe_account_id, business_name, default_currency, access_token_ciphertext, refresh_token_ciphertext,
                    token_key_id, scope, livemode, active, sync_status
                ) VALUES (
                    \(id), \(userID), \(account.id), \(account.displayName), \(account.defaultCurrency), \(accessCiphertext), \(refreshCiphertext),
                    \(keyID), \(grant.scope), \(grant.livemode ?? false), true, 'queued'
                )
                ON CONFLICT (stripe_account_id) DO UPDATE SET
                    user_id = EXCLUDED.user_id, business_name = EXCLUDED.business_name, default_currency = EXCLUDED.default_currency,
                    access_token_ciphertext = EXCLUDED.access_token_ciphertext, refresh_token_ciphertext = EXCLUDED.refresh_token_ciphertext,
                    token_key_id = EXCLUDED.token_key_id, scope = EXCLUDED.scope, livemode = EXCLUDED.livemode, active = true,
                    sync_status = 'queued', last_error = NULL, updated_at = now()
                """,
                logger: logger
            )
            try await connection.query(
                """
                INSERT INTO sync.sync_jobs (id, connection_id, kind) VALUES (\(UUID()), \(id), 'full')
                ON CONFLICT (connection_id) WHERE status IN ('queued', 'running') DO NOTHING
                """,
                logger: logger
            )
        }
    }

    static func connections(of userID: String, postgres: PostgresClient, logger: Logger) async throws -> [ConnectRoutes.Connection] {
        var result: [ConnectRoutes.Connection] = []
        for try await row in try await postgres.query(
            """
            SELECT id, stripe_account_id, business_name, default_currency, sync_status, last_synced_at, last_error, created_at
            FROM sync.stripe_connections WHERE user_id = \(userID) AND active ORDER BY created_at
            """,
            logger: logger
        ).decode((UUID, String, String?, String?, String, Date?, String?, Date).self) {
            result.append(
                .init(
                    id: row.0,
                    stripeAccountId: row.1,
                    businessName: row.2,
                    defaultCurrency: row.3,
                    syncStatus: row.4,
                    lastSyncedAt: row.5,
                    lastError: row.6,
                    createdAt: row.7
                )
            )
        }
        return result
    }

    /// The connected account id of the caller's active connection; nil when it is someone else's or gone (404).
    static func ownedAccount(_ id: UUID, userID: String, postgres: PostgresClient, logger: Logger) async throws -> String? {
        for try await account in try await postgres.query(
            "SELECT stripe_account_id FROM sync.stripe_connections WHERE id = \(id) AND user_id = \(userID) AND active",
            logger: logger
        ).decode(String.self) { return account }
        return nil
    }

    /// Deactivates the connection, forgets its tokens, drops its queued work and deletes the account's cached data
    /// and metrics (connecting again starts from a full sync).
    static func deactivate(_ id: UUID, account: String, postgres: PostgresClient, logger: Logger) async throws {
        try await postgres.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                UPDATE sync.stripe_connections SET active = false, access_token_ciphertext = '', refresh_token_ciphertext = NULL,
                    sync_status = 'disconnected', last_event_id = NULL, last_event_at = NULL, updated_at = now()
                WHERE id = \(id)
                """,
                logger: logger
            )
            try await connection.query("DELETE FROM sync.sync_jobs WHERE connection_id = \(id) AND status = 'queued'", logger: logger)
            try await connection.query("DELETE FROM sync.metrics_snapshots WHERE connection_id = \(id)", logger: logger)
            for table in [
                "customers_cache", "subscriptions_cache", "invoices_cache", "charges_cache", "prices_cache", "subscription_states",
                "subscription_status_changes", "object_versions",
            ] {
                try await connection.query("DELETE FROM sync.\(unescaped: table) WHERE account_id = \(account)", logger: logger)
            }
        }
    }

    /// Queues a sync for the given connections (all active ones when nil), at most one pending each.
    static func queueSync(connections ids: [UUID]?, postgres: PostgresClient, logger: Logger) async throws -> Queued {
        let rows = try await postgres.query(
            """
            INSERT INTO sync.sync_jobs (id, connection_id, kind)
            SELECT gen_random_uuid(), id, 'incremental' FROM sync.stripe_connections
            WHERE active AND (\(ids == nil) OR id = ANY(\(ids ?? [])))
            ON CONFLICT (connection_id) WHERE status IN ('queued', 'running') DO NOTHING
            RETURNING id
            """,
            logger: logger
        )
        var count = 0
        for try await _ in rows { count += 1 }
        return Queued(queued: count)
    }
}
