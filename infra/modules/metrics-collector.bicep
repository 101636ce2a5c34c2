// The OpenTelemetry Collector that receives the environment agent's metrics over OTLP and exports
// them to Application Insights (customMetrics): the agent cannot send metrics to Application
// Insights itself. https://learn.microsoft.com/azure/container-apps/opentelemetry-agents#otlp-endpoint
import { platformNames } from 'shared.bicep'

param tags object

var names = platformNames(resourceGroup().id)

resource environment 'Microsoft.App/managedEnvironments@2024-10-02-preview' existing = {
  name: names.environment
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: names.identity
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: names.vault
}

resource insights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: names.insights
}

// Read from an environment variable (--config=env:...), so no file or volume is needed; the
// collector expands ${env:...} itself. Only callers presenting the token are accepted.
var configuration = '''
extensions:
  health_check:
    endpoint: 0.0.0.0:13133
  bearertokenauth:
    token: ${env:OTLP_TOKEN}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
        auth:
          authenticator: bearertokenauth
processors:
  batch: {}
exporters:
  azuremonitor:
    connection_string: ${env:APPLICATIONINSIGHTS_CONNECTION_STRING}
service:
  extensions: [health_check, bearertokenauth]
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [azuremonitor]
'''

resource app 'Microsoft.App/containerApps@2025-07-01' = {
  name: 'metrics-collector'
  location: resourceGroup().location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: false
        targetPort: 4317
        transport: 'http2'
        allowInsecure: false
      }
      secrets: [
        { name: 'otlp-token', keyVaultUrl: '${vault.properties.vaultUri}secrets/otlp-token', identity: identity.id }
      ]
    }
    template: {
      containers: [
        {
          name: 'collector'
          image: 'ghcr.io/open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-contrib:0.130.0'
          args: [ '--config=env:COLLECTOR_CONFIGURATION' ]
          resources: { cpu: json('0.5'), memory: '1Gi' }
          env: [
            { name: 'COLLECTOR_CONFIGURATION', value: configuration }
            { name: 'OTLP_TOKEN', secretRef: 'otlp-token' }
            // Not a secret: it only names the Application Insights resource to send to.
            // https://learn.microsoft.com/azure/container-apps/opentelemetry-agents#azure-monitor-application-insights
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
          ]
          probes: [
            { type: 'Liveness', httpGet: { path: '/', port: 13133 }, periodSeconds: 30, failureThreshold: 3 }
            { type: 'Readiness', httpGet: { path: '/', port: 13133 }, periodSeconds: 10, failureThreshold: 3 }
          ]
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

output endpoint string = 'https://${app.properties.configuration.ingress.fqdn}:443'
