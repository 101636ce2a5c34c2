// `azd provision`: the resource group and everything in modules/resources.bicep. The router's
// services are deployed by `azd deploy` with the images it builds (gateway.bicep, scoring.bicep,
// policy.bicep, classifier.bicep, inference-worker.bicep); the model portfolio is portfolio.json.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names the resource group.')
param environmentName string

@description('Azure region of every resource; it needs serverless GPU quota for the portfolio\'s GPU types.')
param location string

@description('Object id of the principal running azd (AZURE_PRINCIPAL_ID).')
param principalId string = ''

@description('User, Group or ServicePrincipal (AZURE_PRINCIPAL_TYPE).')
param principalType string = 'User'

// Generated once by azd and kept in the azd environment's configuration, so no one has to invent
// them. https://learn.microsoft.com/azure/developer/azure-developer-cli/metadata
@secure()
@metadata({ azd: { type: 'generate', config: { length: 32, noSpecial: true, minLower: 1, minUpper: 1, minNumeric: 1 } } })
@description('PostgreSQL administrator password.')
param postgresAdminPassword string

@secure()
@metadata({ azd: { type: 'generate', config: { length: 40, noSpecial: true } } })
@description('The Gateway\'s admin API key (Access:AdminKey), kept in Key Vault as gateway-admin-key.')
param gatewayAdminKey string

@secure()
@metadata({ azd: { type: 'generate', config: { length: 40, noSpecial: true } } })
@description('Key the workers present to their vLLM apps.')
param vllmApiKey string

@secure()
@metadata({ azd: { type: 'generate', config: { length: 40, noSpecial: true } } })
@description('Token the OpenTelemetry agent presents to the metrics collector.')
param metricsToken string

@secure()
@description('Hugging Face access token for downloading (gated) checkpoints (HF_TOKEN).')
param huggingFaceToken string

@description('Azure OpenAI resource endpoint, e.g. https://<resource>.openai.azure.com/ (AZURE_OPENAI_ENDPOINT); azure-openai models are deployed when it and the key are set.')
param azureOpenAiEndpoint string = ''

@secure()
@description('Azure OpenAI key (AZURE_OPENAI_API_KEY).')
param azureOpenAiApiKey string = ''

@secure()
@description('OpenAI key (OPENAI_API_KEY); openai models are deployed when it is set.')
param openAiApiKey string = ''

var tags = { 'azd-env-name': environmentName }

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module resources 'modules/resources.bicep' = {
  name: 'resources'
  scope: group
  params: {
    tags: tags
    principalId: principalId
    principalType: principalType
    postgresAdminPassword: postgresAdminPassword
    gatewayAdminKey: gatewayAdminKey
    vllmApiKey: vllmApiKey
    metricsToken: metricsToken
    huggingFaceToken: huggingFaceToken
    azureOpenAiEndpoint: azureOpenAiEndpoint
    azureOpenAiApiKey: azureOpenAiApiKey
    openAiApiKey: openAiApiKey
  }
}

output AZURE_RESOURCE_GROUP string = group.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = resources.outputs.registryLoginServer
output AZURE_KEY_VAULT_NAME string = resources.outputs.keyVaultName
output GATEWAY_URL string = resources.outputs.gatewayUrl
@description('The portfolio models this provision deployed, comma-separated; the service templates deploy exactly these.')
output ROUTER_MODELS string = resources.outputs.deployedModels
@description('Portfolio models left out because their API credentials are not set.')
output ROUTER_MODELS_SKIPPED string = resources.outputs.skippedModels
