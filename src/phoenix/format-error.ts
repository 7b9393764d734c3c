/** Why a value is not in Phoenix's span format. Neutral: the API answers it with 400, the CLI with exit 2. */
export class PhoenixFormatError extends Error {
  override name = 'PhoenixFormatError';
}
