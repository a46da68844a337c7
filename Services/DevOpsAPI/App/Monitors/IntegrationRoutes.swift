import Foundation
import Hummingbird
import ServiceKit

/// `/api/ops/integrations` (admins): the outside systems devops-api watches, and `…/{id}/check` to check one now.
struct IntegrationRoutes {
    /// Nil while `OPS_ENCRYPTION_KEY` is unset: credentials could not be sealed, so nothing is accepted.
    let runner: CheckRunner?

    struct IntegrationList: ResponseCodable { var integrations: [IntegrationView] }

    struct CheckReport: ResponseCodable {
        var outcome: String
        var statusCode: Int?
        var latencyMs: Int
        var calls: Int
        var retries: Int
        var error: String?
        var integration: IntegrationView

        enum CodingKeys: String, CodingKey {
            case outcome, calls, retries, error, integration
            case statusCode = "status_code"
            case latencyMs = "latency_ms"
        }
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/api/ops/integrations") { request, context -> EditedResponse<IntegrationView> in
            let admin = try context.requireAdmin()
            let runner = try configured()
            let draft = try IntegrationDraft.validate(try await request.decode(as: IntegrationDraft.Create.self, context: context))
            let view = try await runner.queries.create(draft, by: admin.subject, logger: context.logger)
            return EditedResponse(status: .created, response: view)
        }
        router.get("/api/ops/integrations") { _, context -> IntegrationList in
            _ = try context.requireAdmin()
            return IntegrationList(integrations: try await IntegrationQueries.list(postgres: configured().postgres, logger: context.logger))
        }
        router.get("/api/ops/integrations/{id}") { _, context -> IntegrationView in
            _ = try context.requireAdmin()
            return try await IntegrationQueries.find(try Self.id(context), postgres: configured().postgres, logger: context.logger)
        }
        router.patch("/api/ops/integrations/{id}") { request, context -> IntegrationView in
            _ = try context.requireAdmin()
            let runner = try configured()
            let id = try Self.id(context)
            let update = try await request.decode(as: IntegrationDraft.Update.self, context: context)
            return try await runner.queries.update(id, with: update, logger: context.logger)
        }
        router.delete("/api/ops/integrations/{id}") { _, context -> HTTPResponse.Status in
            _ = try context.requireAdmin()
            try await configured().queries.delete(try Self.id(context), logger: context.logger)
            return .noContent
        }
        router.post("/api/ops/integrations/{id}/check") { _, context -> CheckReport in
            _ = try context.requireAdmin()
            let runner = try configured()
            let claimed = try await runner.claim(try Self.id(context))
            let result = await runner.run(claimed)
            let view = try await runner.record(claimed, result)
            return CheckReport(
                outcome: result.outcome.rawValue,
                statusCode: result.statusCode,
                latencyMs: result.latencyMilliseconds,
                calls: result.calls,
                retries: result.retries,
                error: result.error,
                integration: view
            )
        }
    }

    func configured() throws -> CheckRunner {
        guard let runner else {
            throw APIError(.serviceUnavailable, "monitors_not_configured", "set OPS_ENCRYPTION_KEY on devops-api to store integration credentials")
        }
        return runner
    }

    static func id(_ context: ServiceRequestContext) throws -> UUID {
        guard let id = UUID(uuidString: try context.parameters.require("id")) else { throw APIError.notFound("no such integration") }
        return id
    }
}
