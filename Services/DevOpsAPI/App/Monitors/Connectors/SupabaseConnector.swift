import Foundation
import NIOCore
import NIOHTTP1
import ServiceKit

/// Supabase: the Management API's per-service health of one project, its database size and connections (through
/// the Management API's SQL endpoint), and the number of auth users from the project's own Auth admin API
/// (`X-Total-Count`). A service Supabase reports unhealthy fails the check.
struct SupabaseConnector: MonitorConnector {
    let accessToken: String
    let serviceRoleKey: String
    let projectRef: String
    /// The project's own host (`https://<ref>.supabase.co`), for the Auth admin API.
    let projectURL: String

    static let services = ["auth", "db", "pooler", "realtime", "rest", "storage"]
    static let databaseQuery = """
        select pg_database_size(current_database()) as database_size_bytes,
          (select count(*) from pg_stat_activity where state = 'active') as active_connections,
          (select count(*) from pg_stat_activity) as connections,
          current_setting('max_connections')::int as max_connections
        """

    init(_ target: IntegrationTarget) throws(FieldProblems) {
        accessToken = target.credential("access_token")
        serviceRoleKey = target.credential("service_role_key")
        guard case .string(let ref)? = target.config["project_ref"], ref.range(of: "^[a-z0-9]{1,40}$", options: .regularExpression) != nil else {
            throw FieldProblems("config.project_ref", "is required: the project's reference id (lowercase letters and digits)")
        }
        projectRef = ref
        if case .string(let url)? = target.config["project_url"] {
            guard let normalized = IntegrationDraft.normalizedBaseURL(url) else {
                throw FieldProblems("config.project_url", "must be an http or https URL with a host")
            }
            projectURL = normalized
        } else {
            projectURL = "https://\(ref).supabase.co"
        }
    }

    var managementHeaders: HTTPHeaders { ["Authorization": "Bearer \(accessToken)", "Content-Type": "application/json"] }

    func check(using client: ProviderClient) async throws {
        let health = try await self.health(using: client)
        let unhealthy = health.filter { !$0.healthy }.map(\.name)
        guard unhealthy.isEmpty else {
            throw ProviderFailure.unavailable(status: nil, message: "Supabase reports \(unhealthy.joined(separator: ", ")) unhealthy")
        }
    }

    func health(using client: ProviderClient) async throws -> [SupabaseServiceHealth] {
        let url = client.url("/v1/projects/\(projectRef)/health?services=\(Self.services.joined(separator: ","))")
        return try await client.json(ProviderRequest(url: url, headers: managementHeaders), as: [SupabaseServiceHealth].self)
    }

    func collect(_ window: CollectionWindow, using client: ProviderClient) async throws -> Collected {
        let health = try await self.health(using: client)
        let rows = try await client.json(
            ProviderRequest(
                method: .POST,
                url: client.url("/v1/projects/\(projectRef)/database/query"),
                headers: managementHeaders,
                body: ByteBuffer(bytes: try JSONEncoder().encode(["query": Self.databaseQuery]))
            ),
            as: [[String: SupabaseNumber]].self
        )
        let users = try await client.send(
            ProviderRequest(
                url: projectURL + "/auth/v1/admin/users?page=1&per_page=1",
                headers: ["apikey": serviceRoleKey, "Authorization": "Bearer \(serviceRoleKey)"]
            )
        )
        let total = users.headers.first(name: "X-Total-Count").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return SupabaseMetrics.collected(health: health, database: rows.first ?? [:], authUsers: total, at: window.end)
    }
}

/// One entry of `GET /v1/projects/{ref}/health`.
struct SupabaseServiceHealth: Decodable, Equatable, Sendable {
    var name: String
    var healthy: Bool
    /// `COMING_UP`, `ACTIVE_HEALTHY` or `UNHEALTHY`.
    var status: String
    var error: String?
}

/// A number the SQL endpoint may write as a JSON number or, for a `bigint`, as a string.
struct SupabaseNumber: Decodable, Equatable, Sendable {
    var value: Decimal?

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Decimal.self) {
            value = number
        } else if let text = try? container.decode(String.self) {
            value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
        } else {
            value = nil
        }
    }
}

/// Supabase's numbers. No I/O: per-service health as Supabase reports it, the services healthy of those asked, the
/// database size in bytes, active and total connections and the limit, and the total auth users.
enum SupabaseMetrics {
    static func collected(health: [SupabaseServiceHealth], database: [String: SupabaseNumber], authUsers: Int?, at time: Date) -> Collected {
        let hour = time.hourStart
        var samples = [MetricSample(metric: "services_healthy", bucketStart: hour, value: Decimal(health.filter(\.healthy).count), kind: .gauge)]
        func gauge(_ metric: String, _ value: Decimal?) {
            if let value { samples.append(MetricSample(metric: metric, bucketStart: hour, value: value, kind: .gauge)) }
        }
        gauge("database_size_bytes", database["database_size_bytes"]?.value)
        gauge("active_connections", database["active_connections"]?.value)
        gauge("connections", database["connections"]?.value)
        gauge("auth_users", authUsers.map { Decimal($0) })
        return Collected(
            samples: samples,
            summary: [
                "services": .object(Dictionary(health.map { ($0.name, JSONValue.string($0.status)) }, uniquingKeysWith: { first, _ in first })),
                "services_healthy": .number(Decimal(health.filter(\.healthy).count)),
                "services_checked": .number(Decimal(health.count)),
                "database_size_bytes": JSONValue(database["database_size_bytes"]?.value),
                "active_connections": JSONValue(database["active_connections"]?.value),
                "connections": JSONValue(database["connections"]?.value),
                "max_connections": JSONValue(database["max_connections"]?.value),
                "auth_users": JSONValue(authUsers.map { Decimal($0) }),
            ]
        )
    }
}
