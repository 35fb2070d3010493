import nodemailer from 'nodemailer';
import { type Notification, body, title } from './message.js';

/** One plain-text mail over SMTP (`smtp://user:password@host:587`, `smtps://...:465`). */
export async function sendEmail(channel: { url: string; from: string; to: string | string[] }, n: Notification, signal: AbortSignal): Promise<void> {
  const transport = nodemailer.createTransport(channel.url);
  const close = () => transport.close();
  signal.addEventListener('abort', close, { once: true });
  try {
    await transport.sendMail({ from: channel.from, to: channel.to, subject: title(n), text: body(n) });
  } finally {
    signal.removeEventListener('abort', close);
    transport.close();
  }
}
