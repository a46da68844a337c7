import InsightsUsage
import ServiceKit

@main
enum InsightsUsageMain {
    static func main() async {
        await ServiceCommand<InsightsUsageService>.main()
    }
}
