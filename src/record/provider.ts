// Server thread, at start-up (the result travels to the storage thread as data). `llm.provider`: who hosts the model, from the upstream's host name, as the official instrumentations
// infer it from the client's base URL. The table is the JS instrumentation's HOST_SUFFIX_TO_PROVIDER
// (that package is a devDependency and loads `openai` at import, so it is not shipped), plus OpenRouter.
import { LLMProvider } from '@arizeai/openinference-semantic-conventions';

const HOST_SUFFIX_TO_PROVIDER: Record<string, string> = {
  'api.openai.com': LLMProvider.OPENAI,
  'openai.azure.com': LLMProvider.AZURE,
  'services.ai.azure.com': LLMProvider.AZURE,
  'cognitiveservices.azure.com': LLMProvider.AZURE,
  'api.anthropic.com': LLMProvider.ANTHROPIC,
  'api.cohere.com': LLMProvider.COHERE,
  'api.cohere.ai': LLMProvider.COHERE,
  'api.mistral.ai': LLMProvider.MISTRALAI,
  'generativelanguage.googleapis.com': LLMProvider.GOOGLE,
  'aiplatform.googleapis.com': LLMProvider.GOOGLE,
  'amazonaws.com': LLMProvider.AWS,
  'api.x.ai': LLMProvider.XAI,
  'api.deepseek.com': LLMProvider.DEEPSEEK,
  'api.groq.com': LLMProvider.GROQ,
  'api.fireworks.ai': LLMProvider.FIREWORKS,
  'api.moonshot.cn': LLMProvider.MOONSHOT,
  'api.cerebras.ai': LLMProvider.CEREBRAS,
  'api.perplexity.ai': LLMProvider.PERPLEXITY,
  'api.together.ai': LLMProvider.TOGETHER,
  'api.together.xyz': LLMProvider.TOGETHER,
  'ollama.com': LLMProvider.OLLAMA,
  'api.meta.ai': LLMProvider.META,
  'api.z.ai': LLMProvider.ZAI,
  'api.minimax.io': LLMProvider.MINIMAX,
  'api.minimaxi.com': LLMProvider.MINIMAX,
  'api.minimax.chat': LLMProvider.MINIMAX,
  'openrouter.ai': 'openrouter',
};

/** The provider a host belongs to, matched on a label boundary ("smollama.com" is not "ollama.com"), else the host name itself. */
export function providerForHost(host: string): string {
  const name = host
    .toLowerCase()
    .trim()
    .replace(/^\[|\]$/g, '');
  for (const [suffix, provider] of Object.entries(HOST_SUFFIX_TO_PROVIDER)) {
    if (name === suffix || name.endsWith(`.${suffix}`)) return provider;
  }
  return name;
}

/** What a span's `llm.provider` is: LLMTAP_PROVIDER when set; Azure OpenAI's paths say `azure`; else the upstream host's. */
export interface Providers {
  /** For requests on the OpenAI paths (`/v1/…`). */
  upstream: string;
  /** For requests on Azure OpenAI's paths (`/openai/…`). */
  azure: string;
}

export function providers(configured: string, upstream: URL): Providers {
  if (configured) return { upstream: configured, azure: configured };
  return { upstream: providerForHost(upstream.hostname), azure: LLMProvider.AZURE };
}
