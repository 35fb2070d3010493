/** The backups folder when neither --dir nor the config names one, relative to the working directory. */
export const DEFAULT_BACKUP_DIR = 'backups';
