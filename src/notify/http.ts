/** A request that counts as sent only with a 2xx answer. */
export async function request(url: string, init: { method: string; body: string; headers: Record<string, string>; signal: AbortSignal }): Promise<void> {
  const response = await fetch(url, init);
  await response.body?.cancel();
  if (!response.ok) throw new Error(`the server answered ${response.status} ${response.statusText}`);
}

export function postJson(url: string, payload: unknown, signal: AbortSignal, headers: Record<string, string> = {}): Promise<void> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal });
}
