import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// The data set a response is built from, and where it came from.
struct FetchedDataset: Sendable {
    var dataset: RevioDataset
    var fetchedAt: Date
    var source: String
    var stale: Bool
    var message: String?
}

/// Serves the Revio data set from the Postgres cache while it is fresh; refreshes it with one upstream fetch however
/// many requests (and replicas) ask at once; serves the last good data, marked stale, when Revio fails.
actor DatasetProvider {
    /// Named for the cached record's format: a format change starts a new entry instead of misreading the old one.
    static let cacheKey = "dataset-v2"
    let postgres: PostgresClient
    let client: RevioClient?
    let settings: RevioSettings
    let logger: Logger
    private var decoded: (fetchedAt: Date, dataset: RevioDataset)?
    private var refresh: Task<FetchedDataset, any Error>?
    private lazy var demo = DemoData.dataset(mapping: settings.mapping)

    init(postgres: PostgresClient, client: RevioClient?, settings: RevioSettings, logger: Logger) {
        self.postgres = postgres
        self.client = client
        self.settings = settings
        self.logger = logger
    }

    func current() async throws -> FetchedDataset {
        guard let client else { return FetchedDataset(dataset: demo, fetchedAt: Date(), source: "demo", stale: false) }
        let cachedAt = try await cacheTime()
        if let cachedAt, Date().timeIntervalSince(cachedAt) < settings.cacheTTL.inSeconds {
            return FetchedDataset(dataset: try await load(cachedAt), fetchedAt: cachedAt, source: "live", stale: false)
        }
        if let refresh { return try await refresh.value }
        let task = Task { try await self.refreshed(using: client, previous: cachedAt) }
        refresh = task
        defer { refresh = nil }
        return try await task.value
    }

    private func refreshed(using client: RevioClient, previous: Date?) async throws -> FetchedDataset {
        do {
            let (dataset, fetchedAt) = try await fetchUnderLock(client)
            return FetchedDataset(dataset: dataset, fetchedAt: fetchedAt, source: "live", stale: false)
        } catch let error as RevioUnavailable {
            logger.warning("Revio is unavailable", metadata: ["reason": .string(error.reason)])
            guard let previous else {
                throw APIError(.serviceUnavailable, "revio_unavailable", "Revio is unavailable (\(error.reason)) and no earlier data is cached")
            }
            return FetchedDataset(
                dataset: try await load(previous),
                fetchedAt: previous,
                source: "live",
                stale: true,
                message: "Revio is unavailable (\(error.reason)); showing data from \(ISO8601DateFormatter().string(from: previous))"
            )
        }
    }

    /// Another replica may be refreshing: the advisory lock makes it one fetch, and the cache is read again under it.
    private func fetchUnderLock(_ client: RevioClient) async throws -> (RevioDataset, Date) {
        try await postgres.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(hashtext('revio.dataset_cache'))", logger: logger)
            do {
                let result = try await fetchIfStale(client, on: connection)
                try await connection.query("SELECT pg_advisory_unlock(hashtext('revio.dataset_cache'))", logger: logger)
                return result
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(hashtext('revio.dataset_cache'))", logger: logger)
                throw error
            }
        }
    }

    private func fetchIfStale(_ client: RevioClient, on connection: PostgresConnection) async throws -> (RevioDataset, Date) {
        if let cachedAt = try await cacheTime(on: connection), Date().timeIntervalSince(cachedAt) < settings.cacheTTL.inSeconds {
            return (try await load(cachedAt), cachedAt)
        }
        let dataset = try await client.fetchDataset(mapping: settings.mapping)
        let json = String(decoding: try JSONEncoder().encode(dataset), as: UTF8.self)
        let rows = try await connection.query(
            """
            INSERT INTO revio.dataset_cache (cache_key, dataset, fetched_at) VALUES (\(Self.cacheKey), \(json)::jsonb, now())
            ON CONFLICT (cache_key) DO UPDATE SET dataset = EXCLUDED.dataset, fetched_at = EXCLUDED.fetched_at
            RETURNING fetched_at
            """,
            logger: logger
        )
        var fetchedAt = Date()
        for try await value in rows.decode(Date.self) { fetchedAt = value }
        decoded = (fetchedAt, dataset)
        return (dataset, fetchedAt)
    }

    private func cacheTime(on connection: PostgresConnection? = nil) async throws -> Date? {
        let query: PostgresQuery = "SELECT fetched_at FROM revio.dataset_cache WHERE cache_key = \(Self.cacheKey)"
        let rows: PostgresRowSequence
        if let connection {
            rows = try await connection.query(query, logger: logger)
        } else {
            rows = try await postgres.query(query, logger: logger)
        }
        for try await value in rows.decode(Date.self) { return value }
        return nil
    }

    /// The cached data set, decoded once per refresh.
    private func load(_ fetchedAt: Date) async throws -> RevioDataset {
        if let decoded, decoded.fetchedAt == fetchedAt { return decoded.dataset }
        let rows = try await postgres.query(
            "SELECT dataset::text, fetched_at FROM revio.dataset_cache WHERE cache_key = \(Self.cacheKey)",
            logger: logger
        )
        for try await (json, at) in rows.decode((String, Date).self) {
            let dataset = try JSONDecoder().decode(RevioDataset.self, from: Data(json.utf8))
            decoded = (at, dataset)
            return dataset
        }
        throw APIError(.serviceUnavailable, "revio_unavailable", "the cached Revio data disappeared")
    }
}
