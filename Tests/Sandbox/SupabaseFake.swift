import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// Supabase for one or more projects: the Management API's `GET /v1/projects/{ref}/health` and
/// `POST /v1/projects/{ref}/database/query` under a personal access token (120 requests a minute, `X-RateLimit-*`),
/// and the project's Auth admin `GET /auth/v1/admin/users` under its service-role key, with `X-Total-Count`.
public final class SupabaseFake: Sendable {
    public struct Project: Sendable {
        public var accessToken: String
        public var serviceRoleKey: String
        /// Service name → healthy; those not named are healthy.
        public var unhealthy: Set<String> = []
        public var databaseSizeBytes: Int64 = 52_428_800
        public var activeConnections = 7
        public var connections = 21
        public var authUsers = 1_284

        public init(accessToken: String, serviceRoleKey: String) {
            self.accessToken = accessToken
            self.serviceRoleKey = serviceRoleKey
        }
    }

    private let projects = Mutex([String: Project]())

    init() {}

    public func setProject(ref: String, _ project: Project) { projects.withLock { $0[ref] = project } }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/v1/projects/{ref}/health") { request, context in
            try self.management(request, context) { project in
                let asked = request.uri.queryParameters["services"].map { $0.split(separator: ",").map(String.init) } ?? []
                guard !asked.isEmpty else { return try jsonResponse(["message": "services is required"], status: .badRequest) }
                return try jsonObjectResponse(
                    asked.map { name -> [String: Any] in
                        let healthy = !project.unhealthy.contains(name)
                        var entry: [String: Any] = ["name": name, "healthy": healthy, "status": healthy ? "ACTIVE_HEALTHY" : "UNHEALTHY"]
                        if !healthy { entry["error"] = "\(name) is not responding" }
                        return entry
                    }
                )
            }
        }
        router.post("/v1/projects/{ref}/database/query") { request, context in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 16)
            return try self.management(request, context) { project in
                guard let json = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any], json["query"] is String else {
                    return try jsonResponse(["message": "query is required"], status: .badRequest)
                }
                // bigint columns come back as strings, as the SQL endpoint writes them.
                let row: [String: Any] = [
                    "database_size_bytes": String(project.databaseSizeBytes), "active_connections": String(project.activeConnections),
                    "connections": String(project.connections), "max_connections": 60,
                ]
                return try jsonObjectResponse([row], status: .created)
            }
        }
        router.get("/auth/v1/admin/users") { request, _ in
            let key = request.headers[HTTPField.Name("apikey")!]
            guard let project = self.projects.withLock({ $0.values.first { $0.serviceRoleKey == key } }),
                request.headers[.authorization] == "Bearer \(project.serviceRoleKey)"
            else {
                return try jsonResponse(["msg": "Invalid API key"], status: .unauthorized)
            }
            var response = try jsonObjectResponse([
                "users": [["id": UUID().uuidString.lowercased(), "aud": "authenticated"]], "aud": "authenticated",
            ])
            response.headers[HTTPField.Name("X-Total-Count")!] = String(project.authUsers)
            return response
        }
    }

    private func management(_ request: Request, _ context: BasicRequestContext, _ body: (Project) throws -> Response) throws -> Response {
        let token = request.bearerToken
        let ref = context.parameters.get("ref") ?? ""
        guard let project = projects.withLock({ $0[ref] }), project.accessToken == token else {
            return try jsonResponse(["message": "Unauthorized"], status: .unauthorized)
        }
        var response = try body(project)
        response.headers[HTTPField.Name("X-RateLimit-Limit")!] = "120"
        response.headers[HTTPField.Name("X-RateLimit-Remaining")!] = "119"
        response.headers[HTTPField.Name("X-RateLimit-Reset")!] = "60"
        return response
    }

}
