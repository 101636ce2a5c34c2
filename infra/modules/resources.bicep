// Everything `azd provision` owns: identity, monitoring, registry, Key Vault and its secrets,
// Azure Managed Redis, PostgreSQL, Azure Files, the Container Apps environment, the metrics
// collector and one vLLM app per self-hosted model. The router's own services are created by
// `azd deploy` with each image it builds (infra/<service>.bicep).
import { portfolio, gpuProfiles, platformNames } from 'shared.bicep'

param tags object

@description('Object id of the principal running azd (AZURE_PRINCIPAL_ID): it may read and set the vault\'s secrets.')
param principalId string

@description('User, Group or ServicePrincipal (AZURE_PRINCIPAL_TYPE).')
param principalType string

@secure()
param postgresAdminPassword string

@secure()
param gatewayAdminKey string

@secure()
param vllmApiKey string

@secure()
param metricsToken string

@secure()
param huggingFaceToken string

param azureOpenAiEndpoint string

@secure()
param azureOpenAiApiKey string

@secure()
param openAiApiKey string

var names = platformNames(resourceGroup().id)
var location = resourceGroup().location
var keyVaultSecretsUser = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
var keyVaultSecretsOfficer = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')
var acrPull = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')
var postgresAdmin = 'routeradmin'

// An API model is deployed once its credentials are given; a Key Vault reference to a secret that
// does not exist would stop its worker from starting. Self-hosted models need none.
var credentialsGiven = {
  vllm: true
  openai: !empty(openAiApiKey)
  'azure-openai': !empty(azureOpenAiApiKey)
}
var deployedModels = filter(portfolio, model => credentialsGiven[model.backend] && (model.backend != 'azure-openai' || !empty(azureOpenAiEndpoint) || contains(model, 'endpoint')))
var deployedNames = map(deployedModels, model => model.name)
var skippedNames = filter(map(portfolio, model => model.name), name => !contains(deployedNames, name))
var selfHostedModels = filter(deployedModels, model => model.backend == 'vllm')
var usedGpuProfiles = map(union(map(selfHostedModels, model => model.gpu), []), gpu => {
  name: gpuProfiles[gpu].name
  type: gpuProfiles[gpu].type
})

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
  tags: tags
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: names.logs
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: names.insights
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: names.registry
  location: location
  tags: tags
  sku: { name: 'Basic' }
  properties: { adminUserEnabled: false }
}

resource registryPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, acrPull)
  scope: registry
  properties: {
    roleDefinitionId: acrPull
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: names.vault
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
  }
}

// The apps read secrets through the identity.
resource vaultRead 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: keyVaultSecretsUser
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Whoever runs azd can read the Gateway's admin key and rotate secrets: on an RBAC vault the
// data plane needs a role even for the vault's creator.
// https://learn.microsoft.com/azure/key-vault/general/rbac-guide
resource vaultAdministration 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(principalId)) {
  name: guid(vault.id, principalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: keyVaultSecretsOfficer
    principalId: principalId
    principalType: principalType
  }
}

// Azure Managed Redis (Microsoft.Cache/redisEnterprise): Azure Cache for Redis Basic/Standard/
// Premium is being retired. TLS only, on port 10000; the Enterprise clustering policy gives one
// endpoint (no cluster-aware client needed); access keys are off by default and StackExchange.Redis
// signs in with one. https://learn.microsoft.com/azure/redis/dotnet
// https://learn.microsoft.com/azure/redis/architecture#cluster-policies
// https://learn.microsoft.com/azure/redis/entra-for-authentication
resource redis 'Microsoft.Cache/redisEnterprise@2025-04-01' = {
  name: names.redis
  location: location
  tags: tags
  sku: { name: 'Balanced_B0' }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: 'Enabled'
  }
}

resource redisDatabase 'Microsoft.Cache/redisEnterprise/databases@2025-04-01' = {
  parent: redis
  name: 'default'
  properties: {
    port: 10000
    clientProtocol: 'Encrypted'
    clusteringPolicy: 'EnterpriseCluster'
    evictionPolicy: 'VolatileLRU'
    accessKeysAuthentication: 'Enabled'
  }
}

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: names.postgres
  location: location
  tags: tags
  sku: { name: 'Standard_B2s', tier: 'Burstable' }
  properties: {
    version: '16'
    administratorLogin: postgresAdmin
    administratorLoginPassword: postgresAdminPassword
    storage: { storageSizeGB: 32 }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'Disabled' }
  }
}

resource ledgerDatabase 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: 'ledger'
}

resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: postgres
  name: 'allow-azure-services'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

// Connection strings in the formats the services read locally (StackExchange.Redis, Npgsql).
resource cacheSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'cache-connection'
  properties: { value: '${redis.properties.hostName}:10000,password=${redisDatabase.listKeys().primaryKey},ssl=True,abortConnect=False' }
}

resource ledgerSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'ledger-connection'
  properties: { value: 'Host=${postgres.properties.fullyQualifiedDomainName};Database=${ledgerDatabase.name};Username=${postgresAdmin};Password=${postgresAdminPassword};Ssl Mode=Require' }
}

resource adminKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'gateway-admin-key'
  properties: { value: gatewayAdminKey }
}

resource vllmKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'vllm-api-key'
  properties: { value: vllmApiKey }
}

resource huggingFaceSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'hf-token'
  properties: { value: huggingFaceToken }
}

resource metricsTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'otlp-token'
  properties: { value: metricsToken }
}

resource azureOpenAiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(azureOpenAiApiKey)) {
  parent: vault
  name: 'azure-openai-api-key'
  properties: { value: azureOpenAiApiKey }
}

resource openAiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(openAiApiKey)) {
  parent: vault
  name: 'openai-api-key'
  properties: { value: openAiApiKey }
}

// Azure Files (SMB, account key) for what must outlive a replica: the Gateway's ledger journal
// and the vLLM model cache. https://learn.microsoft.com/azure/container-apps/storage-mounts#azure-files
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: names.storage
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: true
    largeFileSharesState: 'Enabled'
  }
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// Bounded by the journal limit (Ledger:MaxBufferedMegabytes, 512 MB) times the Gateway's 10 replicas.
resource journalShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2023-05-01' = {
  parent: fileService
  name: 'ledger-journal'
  properties: { shareQuota: 16 }
}

// A 70B AWQ checkpoint is ~40 GB; room for a few models and their revisions.
resource modelShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2023-05-01' = {
  parent: fileService
  name: 'model-cache'
  properties: { shareQuota: 512 }
}

// Application Insights takes the agent's traces and logs but not its metrics; metrics go to an
// OTLP endpoint instead: the collector, which exports them to Application Insights.
// https://learn.microsoft.com/azure/container-apps/opentelemetry-agents#known-limitations
module environmentBase 'environment.bicep' = {
  name: 'environment'
  dependsOn: [ logs, insights ]
  params: {
    tags: tags
    gpuProfiles: usedGpuProfiles
    openTelemetry: {
      tracesConfiguration: { destinations: [ 'appInsights' ] }
      logsConfiguration: { destinations: [ 'appInsights' ] }
    }
  }
}

resource environment 'Microsoft.App/managedEnvironments@2024-10-02-preview' existing = {
  name: names.environment
}

resource journalStorage 'Microsoft.App/managedEnvironments/storages@2024-10-02-preview' = {
  parent: environment
  name: journalShare.name
  dependsOn: [ environmentBase ]
  properties: {
    azureFile: {
      accountName: storage.name
      accountKey: storage.listKeys().keys[0].value
      shareName: journalShare.name
      accessMode: 'ReadWrite'
    }
  }
}

resource modelStorage 'Microsoft.App/managedEnvironments/storages@2024-10-02-preview' = {
  parent: environment
  name: modelShare.name
  dependsOn: [ environmentBase ]
  properties: {
    azureFile: {
      accountName: storage.name
      accountKey: storage.listKeys().keys[0].value
      shareName: modelShare.name
      accessMode: 'ReadWrite'
    }
  }
}

module metricsCollector 'metrics-collector.bicep' = {
  name: 'metrics-collector'
  dependsOn: [ environmentBase, vaultRead, metricsTokenSecret ]
  params: {
    tags: tags
  }
}

module environmentWithMetrics 'environment.bicep' = {
  name: 'environment-metrics'
  dependsOn: [ journalStorage, modelStorage ]
  params: {
    tags: tags
    gpuProfiles: usedGpuProfiles
    openTelemetry: {
      destinationsConfiguration: {
        otlpConfigurations: [
          {
            name: 'metrics-collector'
            endpoint: metricsCollector.outputs.endpoint
            insecure: false
            headers: [
              { key: 'authorization', value: 'Bearer ${metricsToken}' }
            ]
          }
        ]
      }
      tracesConfiguration: { destinations: [ 'appInsights' ] }
      logsConfiguration: { destinations: [ 'appInsights' ] }
      metricsConfiguration: { destinations: [ 'metrics-collector' ] }
    }
  }
}

module vllmApps 'vllm.bicep' = [for model in selfHostedModels: {
  name: 'vllm-${model.name}'
  dependsOn: [ environmentWithMetrics, modelStorage, vaultRead, huggingFaceSecret, vllmKeySecret ]
  params: {
    model: model
    tags: tags
  }
}]

output registryLoginServer string = registry.properties.loginServer
output keyVaultName string = vault.name
output gatewayUrl string = 'https://gateway.${environmentWithMetrics.outputs.defaultDomain}'
output deployedModels string = join(deployedNames, ',')
output skippedModels string = join(skippedNames, ',')
