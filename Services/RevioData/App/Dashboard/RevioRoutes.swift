import Foundation
import Hummingbird
import PostgresNIO
import ServiceKit

/// `POST /functions/v1/revio-data` (the path `supabase.functions.invoke('revio-data')` calls) and the admin's audit log.
struct RevioRoutes {
    let postgres: PostgresClient
    let provider: DatasetProvider
    let settings: RevioSettings

    struct DashboardRequest: Decodable {
        var dataType: String?
        var page: Int?
        var perPage: Int?

        enum CodingKeys: String, CodingKey {
            case dataType, page
            case perPage = "per_page"
        }
    }

    struct AuditEntry: Codable, Equatable {
        var userId: String
        var dataType: String
        var source: String
        var stale: Bool
        var accessedAt: Date
    }

    struct Audit: ResponseCodable { var entries: [AuditEntry] }

    static let maxPerPage = 200

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/functions/v1/revio-data") { request, context -> DashboardResponse in
            let user = try context.requireUser()
            let body = try await request.decode(as: DashboardRequest.self, context: context)
            let (dataType, page, perPage) = try Self.validate(body)
            let fetched = try await provider.current()
            try await postgres.query(
                """
                INSERT INTO revio.access_log (user_id, data_type, source, stale)
                VALUES (\(user.subject), \(dataType.rawValue), \(fetched.source), \(fetched.stale))
                """,
                logger: context.logger
            )
            return DashboardResponse.build(fetched, dataType: dataType, page: page, perPage: perPage, currency: settings.reportingCurrency)
        }
        router.get("/api/revio/audit") { request, context -> Audit in
            _ = try context.requireAdmin()
            let limit = min(max(request.uri.queryParameters.get("limit", as: Int.self) ?? 100, 1), 1_000)
            var entries: [AuditEntry] = []
            for try await (user, dataType, source, stale, at) in try await postgres.query(
                "SELECT user_id, data_type, source, stale, accessed_at FROM revio.access_log ORDER BY accessed_at DESC, id DESC LIMIT \(limit)",
                logger: context.logger
            ).decode((String, String, String, Bool, Date).self) {
                entries.append(AuditEntry(userId: user, dataType: dataType, source: source, stale: stale, accessedAt: at))
            }
            return Audit(entries: entries)
        }
    }

    static func validate(_ body: DashboardRequest) throws -> (RevioDataType, Int, Int) {
        let raw = body.dataType ?? "all"
        guard let dataType = RevioDataType(rawValue: raw) else {
            throw APIError.badRequest(
                "invalid_data_type",
                "dataType must be one of \(RevioDataType.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(raw)\")"
            )
        }
        let page = body.page ?? 1
        let perPage = body.perPage ?? 50
        var problems: [FieldProblem] = []
        if page < 1 { problems.append(FieldProblem("page", "must be 1 or more")) }
        if !(1...maxPerPage).contains(perPage) { problems.append(FieldProblem("per_page", "must be 1 to \(maxPerPage)")) }
        guard problems.isEmpty else { throw APIError.invalidPayload(problems) }
        return (dataType, page, perPage)
    }
}
