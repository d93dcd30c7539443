/**
 * The error codes the simulated Direct API answers, with English and Russian
 * texts (`Accept-Language: ru` picks Russian; anything else English, API.md §2).
 * Codes from the vendor's error list (API.md §4); 4000–4002 and 8000 for invalid
 * requests are the simulator's GUESS (the vendor documents no exact code).
 */

export const DIRECT_ERRORS = {
  /** Invalid, revoked or expired token, or no `Authorization: Bearer` at all. */
  53: { en: 'Authorization error', ru: 'Ошибка авторизации' },
  /** `Client-Login` names no client of this token (or is missing for an agency token). */
  54: { en: 'No rights', ru: 'Нет прав' },
  /** Method not found in this service. */
  55: { en: 'Operation not found', ru: 'Не найдена операция' },
  /** Reports: more than 20 requests per 10 s for one advertiser. */
  56: { en: 'Request limit exceeded', ru: 'Превышен лимит запросов' },
  /** Not enough points (units) left today for this JSON service call. */
  152: { en: 'Insufficient points', ru: 'Недостаточно баллов' },
  /** More than 5 simultaneous requests for one advertiser. */
  506: { en: 'Too many simultaneous requests', ru: 'Превышено ограничение на количество одновременных запросов' },
  /** Server temporarily unavailable (simulated 500). */
  1000: { en: 'Server temporarily unavailable', ru: 'Сервер временно недоступен' },
  /** Operation error (simulated 502: the build exceeded the time limit). */
  1002: { en: 'Operation error', ru: 'Ошибка операции' },
  /** ReportName already used by a report with other parameters (GUESS for the code). */
  4000: { en: 'Invalid request parameters', ru: 'Неверные параметры запроса' },
  /** Period older than the available history (3 years from the first day of the month). */
  4001: { en: 'Statistics unavailable for the period', ru: 'Статистика за период недоступна' },
  /** `processingMode: online` for a report too big to build online. */
  4002: { en: 'Report cannot be built online', ru: 'Отчет не может быть сформирован в режиме online' },
  /** Invalid request: body, structure, unknown field or value (GUESS for the code). */
  8000: { en: 'Invalid request', ru: 'Некорректный запрос' },
  /** Too many reports in the offline queue. */
  9000: { en: 'Report queue is full', ru: 'Превышено количество отчетов в очереди' },
} as const

export type DirectErrorCode = keyof typeof DIRECT_ERRORS

/** An error to answer, with a detail that says what to fix. */
export class DirectError extends Error {
  constructor(
    readonly code: DirectErrorCode,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`)
  }
}

export type Language = 'en' | 'ru'

export function languageOf(acceptLanguage: string | undefined): Language {
  return (acceptLanguage ?? '').trim().toLowerCase().startsWith('ru') ? 'ru' : 'en'
}

/** The JSON error body every Direct service answers: `{"error":{request_id,error_code,error_string,error_detail}}`. */
export function errorBody(requestId: string, error: DirectError, language: Language): string {
  return JSON.stringify({
    error: {
      request_id: requestId,
      error_code: error.code,
      error_string: DIRECT_ERRORS[error.code][language],
      error_detail: error.detail,
    },
  })
}
