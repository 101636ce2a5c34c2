// One self-hosted model: vLLM's OpenAI-compatible server alone in its app on a serverless GPU
// profile. Only the first container of an app gets the GPU, so nothing else shares this app; the
// model's InferenceWorker runs on the Consumption profile and calls it over internal ingress.
// https://learn.microsoft.com/azure/container-apps/gpu-serverless-overview#considerations
import { platformNames, gpuProfiles, vllmName } from 'shared.bicep'

@description('One portfolio entry with backend vllm: name, servedModel, gpu (T4 | A100), contextLength, and optionally vllmImage, vllmArgs, minReplicas, maxReplicas.')
param model object

param tags object

var names = platformNames(resourceGroup().id)
var profile = gpuProfiles[model.gpu]

resource environment 'Microsoft.App/managedEnvironments@2024-10-02-preview' existing = {
  name: names.environment
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: names.identity
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: names.vault
}

// fp16 because the T4 has no bfloat16 and the AWQ/GPTQ kernels compute in fp16; up to 20 top
// log-probabilities per token (the router asks for 5).
var arguments = concat([
  '--model'
  model.servedModel
  '--dtype'
  'half'
  '--max-model-len'
  string(model.contextLength)
  '--max-logprobs'
  '20'
  '--gpu-memory-utilization'
  '0.90'
  '--port'
  '8000'
], model.?vllmArgs ?? [])

resource app 'Microsoft.App/containerApps@2025-07-01' = {
  name: vllmName(model.name)
  location: resourceGroup().location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: profile.name
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: false
        targetPort: 8000
        transport: 'http'
        allowInsecure: false
      }
      secrets: [
        { name: 'hf-token', keyVaultUrl: '${vault.properties.vaultUri}secrets/hf-token', identity: identity.id }
        { name: 'vllm-api-key', keyVaultUrl: '${vault.properties.vaultUri}secrets/vllm-api-key', identity: identity.id }
      ]
    }
    template: {
      containers: [
        {
          name: 'vllm'
          image: model.?vllmImage ?? 'vllm/vllm-openai:v0.6.3'
          args: arguments
          // A serverless GPU replica is the whole profile: 8 vCPU / 56 GiB (T4) or 24 vCPU / 220 GiB (A100).
          resources: { cpu: json(profile.cpu), memory: profile.memory }
          env: [
            // Gated checkpoints (Meta's Llama among them) need a Hugging Face token.
            { name: 'HF_TOKEN', secretRef: 'hf-token' }
            // vLLM then requires `Authorization: Bearer <key>` on /v1 (the worker sends Worker__ApiKey).
            { name: 'VLLM_API_KEY', secretRef: 'vllm-api-key' }
            // Weights are downloaded once into the Azure Files share: a replica has at most 8 GiB of
            // ephemeral storage, less than a 70B checkpoint, and the share survives restarts.
            // https://learn.microsoft.com/azure/container-apps/storage-mounts#ephemeral-storage
            // https://learn.microsoft.com/azure/container-apps/cold-start#manage-large-downloads
            { name: 'HF_HOME', value: '/models/huggingface' }
          ]
          volumeMounts: [
            { volumeName: 'model-cache', mountPath: '/models' }
          ]
          // vLLM listens only once the weights are loaded: the first start of a 70B model downloads
          // ~40 GB, so the startup probe allows 60 s + 10 x 240 s (the documented maximums).
          // https://learn.microsoft.com/azure/container-apps/health-probes
          probes: [
            { type: 'Startup', httpGet: { path: '/health', port: 8000 }, initialDelaySeconds: 60, periodSeconds: 240, timeoutSeconds: 10, failureThreshold: 10 }
            { type: 'Liveness', httpGet: { path: '/health', port: 8000 }, periodSeconds: 30, timeoutSeconds: 10, failureThreshold: 3 }
            { type: 'Readiness', httpGet: { path: '/health', port: 8000 }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 }
          ]
        }
      ]
      volumes: [
        { name: 'model-cache', storageType: 'AzureFile', storageName: 'model-cache' }
      ]
      scale: {
        minReplicas: model.?minReplicas ?? 1
        maxReplicas: model.?maxReplicas ?? 1
        rules: [
          {
            name: 'http-concurrency'
            http: { metadata: { concurrentRequests: '64' } }
          }
        ]
      }
    }
  }
}
