// Storage thread. The endpoint module that builds the attributes of each recorded API.
import type { EndpointName } from '../route.js';
import { chatCompletions } from './chat.js';
import { completions } from './completions.js';
import { embeddings } from './embeddings.js';
import type { Endpoint } from './endpoint.js';
import { responses } from './responses.js';

export const ENDPOINTS: Record<EndpointName, Endpoint> = { chat: chatCompletions, responses, embeddings, completions };
