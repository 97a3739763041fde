// The reminders namespace of the package (src/index.ts).
export { announceDueReminders, cancelReminder, claimDueReminders, createReminder, REMINDER_CHANNEL, upcomingReminders } from '../core/reminders.ts';
export type { NewReminder, Reminder, ReminderAnnouncement, UpcomingOptions } from '../core/reminders.ts';
