// The Container Apps environment. resources.bicep applies it twice: first without a metrics
// destination, then, once the metrics collector app exists in it, with the collector as the
// OpenTelemetry agent's OTLP destination for metrics (the agent needs the collector's address,
// which needs the environment's domain).
import { platformNames } from 'shared.bicep'

param tags object

@description('GPU workload profiles the portfolio uses: { name, type }.')
param gpuProfiles array

@secure()
@description('openTelemetryConfiguration of the environment (secure: it carries the collector\'s token).')
param openTelemetry object

var names = platformNames(resourceGroup().id)

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: names.logs
}

resource insights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: names.insights
}

// Serverless GPU profiles sit beside the Consumption profile of a workload-profiles environment.
// https://learn.microsoft.com/azure/container-apps/gpu-serverless-overview
resource environment 'Microsoft.App/managedEnvironments@2024-10-02-preview' = {
  name: names.environment
  location: resourceGroup().location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
    appInsightsConfiguration: { connectionString: insights.properties.ConnectionString }
    // The agent sets OTEL_EXPORTER_OTLP_ENDPOINT in every app, so the services export as they do locally.
    openTelemetryConfiguration: openTelemetry
    workloadProfiles: concat([ { name: 'Consumption', workloadProfileType: 'Consumption' } ], map(gpuProfiles, profile => {
      name: profile.name
      workloadProfileType: profile.type
    }))
  }
}

output defaultDomain string = environment.properties.defaultDomain
