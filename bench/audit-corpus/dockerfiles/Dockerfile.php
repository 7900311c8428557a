FROM php:8.2-apache
MAINTAINER web team <web@example.com>
ENV APACHE_DOCUMENT_ROOT=/var/www/html/public \
    DB_PASSWORD=changeme123 \
    APP_ENV=production
RUN apt-get update && apt-get install -y libzip-dev unzip git sudo \
    && docker-php-ext-install pdo_mysql zip
RUN curl -sS https://getcomposer.org/installer | php -- --install-dir=/usr/local/bin --filename=composer
ADD . /var/www/html
RUN cd /var/www/html && composer install --no-dev --optimize-autoloader
RUN chown -R www-data:www-data /var/www/html
EXPOSE 80 22
CMD ["apache2-foreground"]
